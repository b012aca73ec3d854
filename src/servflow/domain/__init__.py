"""servflow's domain: pure values, the ServiceRequest aggregate, calendars and SLA maths.

Nothing here does I/O or reads the wall clock; time is passed in.
"""
