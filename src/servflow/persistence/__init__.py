"""Everything that knows a driver: SQL, stores, codec, encryption, hash chain, views' store.

It sits under the projections and over the domain: nothing here decides a business rule.
"""
