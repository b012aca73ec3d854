"""The demo company's world, as data: customers, teams, texts, findings, the pace of work.

How the company handles each kind of need, and its typical cases, are in
:mod:`servflow.demo.needs`.

Nothing here decides anything: the stories in :mod:`servflow.demo.story` draw from these tables
with the simulation's random generator, so changing or reordering an entry changes what a seed
gives. Texts may hold ``{placeholders}`` that a story fills in (a product, a city, a weekday...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servflow import Customer, Kind, Priority, Tier
from servflow.demo.needs import Act

#: Who calls: businesses and households of every tier, each in the language it writes in.
CUSTOMERS: tuple[Customer, ...] = tuple(
    Customer(id=id_, name=name, tier=tier, language=language)
    for id_, name, tier, language in (
        ("hotel-mirador", "Hotel Mirador del Puerto", Tier.VIP, "es"),
        ("clinica-salud-norte", "Clínica Salud Norte", Tier.VIP, "es"),
        ("restaurantes-la-huerta", "Restaurantes La Huerta", Tier.VIP, "es"),
        ("brightwater-lettings", "Brightwater Lettings Ltd", Tier.VIP, "en"),
        ("colegio-san-jorge", "Colegio San Jorge", Tier.VIP, "es"),
        ("ferreteria-lopez", "Ferretería López", Tier.PREMIUM, "es"),
        ("panaderia-ortiz", "Panadería Ortiz", Tier.PREMIUM, "es"),
        ("gimnasio-vital", "Gimnasio Vital", Tier.PREMIUM, "es"),
        ("sunset-apartments", "Sunset Apartments Marbella", Tier.PREMIUM, "en"),
        ("oficinas-arco", "Oficinas Arco S.L.", Tier.PREMIUM, "es"),
        ("lucia-fernandez", "Lucía Fernández", Tier.PREMIUM, "es"),
        ("james-whitaker", "James Whitaker", Tier.PREMIUM, "en"),
        ("comunidad-los-olivos", "Comunidad de Propietarios Los Olivos 12", Tier.PREMIUM, "es"),
        ("bar-el-faro", "Bar El Faro", Tier.PREMIUM, "es"),
        ("green-leaf-cafe", "Green Leaf Café", Tier.PREMIUM, "en"),
        ("residencia-aurora", "Residencia Aurora", Tier.PREMIUM, "es"),
        ("maria-garcia", "María García", Tier.STANDARD, "es"),
        ("jose-martinez", "José Martínez", Tier.STANDARD, "es"),
        ("carmen-ruiz", "Carmen Ruiz", Tier.STANDARD, "es"),
        ("antonio-sanchez", "Antonio Sánchez", Tier.STANDARD, "es"),
        ("laura-gomez", "Laura Gómez", Tier.STANDARD, "es"),
        ("david-jimenez", "David Jiménez", Tier.STANDARD, "es"),
        ("pilar-navarro", "Pilar Navarro", Tier.STANDARD, "es"),
        ("francisco-romero", "Francisco Romero", Tier.STANDARD, "es"),
        ("rocio-torres", "Rocío Torres", Tier.STANDARD, "es"),
        ("manuel-dominguez", "Manuel Domínguez", Tier.STANDARD, "es"),
        ("nuria-vazquez", "Nuria Vázquez", Tier.STANDARD, "es"),
        ("alvaro-castillo", "Álvaro Castillo", Tier.STANDARD, "es"),
        ("cristina-molina", "Cristina Molina", Tier.STANDARD, "es"),
        ("sergio-ortega", "Sergio Ortega", Tier.STANDARD, "es"),
        ("beatriz-delgado", "Beatriz Delgado", Tier.STANDARD, "es"),
        ("raquel-serrano", "Raquel Serrano", Tier.STANDARD, "es"),
        ("hugo-marin", "Hugo Marín", Tier.STANDARD, "es"),
        ("sarah-collins", "Sarah Collins", Tier.STANDARD, "en"),
        ("peter-hughes", "Peter Hughes", Tier.STANDARD, "en"),
        ("emma-brown", "Emma Brown", Tier.STANDARD, "en"),
        ("oliver-grant", "Oliver Grant", Tier.STANDARD, "en"),
        ("margaret-oneill", "Margaret O'Neill", Tier.STANDARD, "en"),
        ("claire-dubois", "Claire Dubois", Tier.STANDARD, "fr"),
        ("tomas-herrera", "Tomás Herrera", Tier.STANDARD, "es"),
    )
)
# Businesses call more often than households.
CUSTOMER_WEIGHTS = tuple(
    {Tier.VIP: 3.0, Tier.PREMIUM: 2.0, Tier.STANDARD: 1.0}[c.tier] for c in CUSTOMERS
)

#: Each team's agents; the first one is the team lead.
TEAMS: Mapping[str, tuple[str, ...]] = {
    "frontline": ("ana", "luis", "marta", "tom"),
    "sales": ("carmen", "javier", "emily"),
    "billing": ("lucia", "pablo"),
    "field-service": ("diego", "sofia", "raul", "jorge"),
    "warranty": ("elena", "miguel"),
    "customer-care": ("isabel", "andres"),
}
AUDITORS = ("auditor:eva", "auditor:tomas")

#: Words the texts' placeholders are filled with.
PRODUCTS = (
    "washing machine",
    "fridge-freezer",
    "dishwasher",
    "air-conditioning split",
    "gas boiler",
    "induction hob",
    "heat pump",
    "water heater",
)
CITIES = ("Madrid", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Bilbao", "Alicante", "Murcia")
MONTHS = ("January", "February", "March", "April", "May", "June", "July")


#: Why customers withdraw, the progress reports agents send, and the fixes after a reopening.
WITHDRAWALS = (
    "The customer bought the {product} elsewhere and withdrew the request.",
    "The customer solved it themselves and withdrew the request.",
    "Withdrawn: the customer will call again next month.",
)
PROGRESS = (
    "Technician visit booked for {weekday} between 9:00 and 13:00.",
    "The spare part is ordered from the manufacturer; expected in three to five working days.",
    "Your request is being handled by {team}; we will call you before {weekday}.",
)
FIXES = (
    Act("Second visit: replaced the control board and tested for an hour.", (60, 120), 140),
    Act("Checked again with the customer and corrected the configuration.", (20, 45)),
    Act("Escalated to the team lead, who solved it with the customer.", (30, 60)),
)
#: What customers write with each satisfaction score.
COMMENTS: Mapping[int, tuple[str, ...]] = {
    5: ("Quick and friendly, thank you.", "Muy bien: the technician explained everything."),
    4: ("Solved, thanks.", "Good service, although the visit was late."),
    3: ("Solved, but it took longer than I expected.", "I had to explain it twice."),
    2: ("I had to call three times.", "Nobody told me my request had changed department."),
    1: ("Very poor: nobody kept me informed.",),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A non-conformity an auditor may log, with the correction a team lead may make."""

    description: str
    severity: str
    category: str
    root_cause: str
    corrective_action: str
    correction: str


#: The non-conformities auditors log.
NONCONFORMITIES = (
    Finding(
        "The first response reached the customer after the time promised in the receipt.",
        "major",
        "response-time",
        "The request sat in the triage queue over a weekend with nobody on the rota.",
        "Add a Monday 8:00 triage slot for weekend requests.",
        "Triage rota updated: the weekend backlog is cleared first thing on Monday.",
    ),
    Finding(
        "The transfer to another department was not communicated to the customer.",
        "minor",
        "communication",
        "The transfer template has no customer message.",
        "Send a progress report with every transfer.",
        "Transfer checklist now includes a progress report to the customer.",
    ),
    Finding(
        "Action recorded without the technician's findings; the visit cannot be audited.",
        "minor",
        "documentation",
        "The field app lets a visit be closed without notes.",
        "Make visit notes mandatory in the field app.",
        "Field app updated: visit notes are mandatory.",
    ),
    Finding(
        "Refund approved without the second signature required above 150 EUR.",
        "major",
        "billing-control",
        "The approver was on holiday and no substitute was named.",
        "Name a substitute approver for every holiday period.",
        "Substitute approvers are now named in the billing calendar.",
    ),
    Finding(
        "The customer's invoice was emailed to another customer.",
        "critical",
        "data-protection",
        "Two customer records shared an email address after a merge.",
        "Deduplicate customer records and check the address before sending.",
        "Records deduplicated; the data-protection officer informed the customer.",
    ),
    Finding(
        "A call-back promised to the customer never happened.",
        "major",
        "communication",
        "Call-backs are noted on paper, not in the request.",
        "Record every promised call-back as a follow-up.",
        "Agents trained to record call-backs as follow-ups; paper notes banned.",
    ),
)


#: Business minutes from opening to classification, then from assignment to the first STAR
#: contact (which meets the first-response clock), by priority.
PACE: Mapping[Priority, tuple[tuple[int, int], tuple[int, int]]] = {
    Priority.URGENT: ((2, 30), (5, 40)),
    Priority.HIGH: ((5, 90), (10, 120)),
    Priority.NORMAL: ((10, 180), (15, 300)),
    Priority.LOW: ((10, 300), (20, 480)),
}

#: How often the first action orders a spare part, by kind; the part takes days to come.
PARTS: Mapping[Kind, float] = {Kind.SERVICE_REQUEST: 0.25, Kind.WARRANTY: 0.4, Kind.CLAIM: 0.1}
#: Business minutes from booking a technician's visit to the visit, by priority.
VISIT: Mapping[Priority, tuple[int, int]] = {
    Priority.URGENT: (120, 600),
    Priority.HIGH: (300, 1200),
    Priority.NORMAL: (600, 1800),
    Priority.LOW: (900, 2400),
}
#: The final business days are a rush, in which the desk answers this many times slower.
RUSH_DAYS = 5
RUSH_LOAD = 2.5
# Information and service requests are the bread and butter; reports are rare.
KIND_WEIGHTS = (18, 9, 4, 16, 8, 10, 9, 3, 2, 14)
CHANNEL_WEIGHTS = (8, 34, 20, 18, 12, 8)
