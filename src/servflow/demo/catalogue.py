"""The demo company's world, as data: customers, teams, needs and their cases, texts, findings.

Nothing here decides anything: the stories in :mod:`servflow.demo.story` draw from these tables
with the simulation's random generator, so changing or reordering an entry changes what a seed
gives. Texts may hold ``{placeholders}`` that a story fills in (a product, a city, a weekday...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servflow import Customer, Kind, Priority, Stage, Tier

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


@dataclass(frozen=True, slots=True)
class Act:
    """Something an agent does: its text, its effort range in minutes and its top cost."""

    text: str
    effort: tuple[int, int]
    #: Highest cost in euros; 0 for actions that cost nothing but time.
    cost: int = 0


@dataclass(frozen=True, slots=True)
class Case:
    """One typical request of a kind of need: what the customer says and how it goes."""

    symptom: str
    synthesis: str
    questions: tuple[str, ...]
    findings: str
    diagnosis: str
    acts: tuple[Act, ...]
    resolution: str
    wait_reason: str
    reply: str
    reopen_reason: str


@dataclass(frozen=True, slots=True)
class Need:
    """How the company handles one kind of need."""

    stages: tuple[Stage, ...]
    team: str
    categories: tuple[str, ...]
    #: low, normal, high, urgent
    priorities: tuple[int, int, int, int]
    p_wait: float
    p_follow_up: float
    transfer_to: str | None
    p_transfer: float
    transfer_note: str
    transfer_act: Act
    visit: bool
    cases: tuple[Case, ...]


#: How the company handles each kind of need, with two typical cases of each.
NEEDS: Mapping[Kind, Need] = {
    Kind.INFORMATION: Need(
        stages=(Stage.PRE_SALE, Stage.POST_SALE),
        team="frontline",
        categories=("product-info", "delivery", "spare-parts"),
        priorities=(35, 55, 10, 0),
        p_wait=0.1,
        p_follow_up=0.05,
        transfer_to="sales",
        p_transfer=0.12,
        transfer_note="The customer wants a formal quote: sent to sales.",
        transfer_act=Act("Prepared and emailed a quote with installation included.", (20, 45)),
        visit=False,
        cases=(
            Case(
                symptom="Asks whether the {product} on the web includes delivery and "
                "installation in {city}, and how long it takes.",
                synthesis="Needs the delivery and installation conditions of a {product} "
                "before buying.",
                questions=(
                    "Which model reference are you looking at?",
                    "Is the delivery address a flat with a lift?",
                    "Should we take the old appliance away?",
                ),
                findings="Model in stock at the {city} warehouse; free installation above "
                "600 EUR; taking the old unit away costs 25 EUR.",
                diagnosis="Pre-sale information need; no product issue.",
                acts=(
                    Act("Sent the product sheet and installation conditions by email.", (5, 15)),
                ),
                resolution="Conditions explained; the customer will order on the web.",
                wait_reason="Waiting for the model reference the customer saw in the showroom.",
                reply="Sent a photo of the showroom label with the model reference.",
                reopen_reason="The installation price on the web differs from the one we gave.",
            ),
            Case(
                symptom="Wants to know if filters and spare parts for a {product} bought in "
                "{month} are still sold, and where.",
                synthesis="Looking for original spare parts for a {product}.",
                questions=("What is the serial number on the plate?", "Which part is worn?"),
                findings="Parts catalogue lists the filter kit as available in the {city} store.",
                diagnosis="Post-sale information need; parts available.",
                acts=(Act("Reserved the filter kit at the {city} store for pickup.", (5, 20)),),
                resolution="Part reserved; the customer will collect it this week.",
                wait_reason="Asked the customer for the serial number on the rating plate.",
                reply="Serial number sent by WhatsApp: it is on the back panel.",
                reopen_reason="The store says the reserved part is not the right one.",
            ),
        ),
    ),
    Kind.QUOTE: Need(
        stages=(Stage.PRE_SALE,),
        team="sales",
        categories=("installation", "replacement", "maintenance-plan"),
        priorities=(15, 60, 20, 5),
        p_wait=0.35,
        p_follow_up=0.25,
        transfer_to="field-service",
        p_transfer=0.15,
        transfer_note="A site survey is needed before quoting: sent to field-service.",
        transfer_act=Act(
            "Site survey done: measured the walls and the electrical panel.", (60, 120), 0
        ),
        visit=False,
        cases=(
            Case(
                symptom="Asks for a quote to install {n} air-conditioning splits in a flat in "
                "{city}.",
                synthesis="Wants a price for supplying and installing {n} splits.",
                questions=(
                    "How many rooms and how many square metres each?",
                    "Where would the outdoor unit go?",
                    "Does the community allow units on the facade?",
                ),
                findings="Three bedrooms of 12 m2 and a living room of 25 m2; outdoor unit on "
                "the terrace.",
                diagnosis="Standard multi-split installation, no structural work.",
                acts=(
                    Act("Prepared a quote with two equipment options.", (30, 60)),
                    Act("Called the customer to walk through the quote.", (10, 20)),
                ),
                resolution="Quote sent; valid for 30 days.",
                wait_reason="Waiting for the floor plan and photos of the terrace.",
                reply="Floor plan and three photos attached to the email.",
                reopen_reason="The quote is missing the removal of the old units.",
            ),
            Case(
                symptom="Needs a price to replace an old {product} in a {business} in {city}.",
                synthesis="Replacement quote for a {product}, supply and installation.",
                questions=("What model is installed now?", "Is there parking for the van?"),
                findings="Current unit is 14 years old; the connections can be reused.",
                diagnosis="Like-for-like replacement.",
                acts=(Act("Quote prepared with the energy-efficiency grant applied.", (25, 50)),),
                resolution="Quote sent with the grant paperwork.",
                wait_reason="Waiting for a photo of the current unit's rating plate.",
                reply="Photo of the rating plate sent.",
                reopen_reason="The grant amount in the quote is wrong.",
            ),
        ),
    ),
    Kind.PROPOSAL: Need(
        stages=(Stage.PRE_SALE,),
        team="sales",
        categories=("maintenance-contract", "fleet-renewal"),
        priorities=(10, 55, 30, 5),
        p_wait=0.3,
        p_follow_up=0.3,
        transfer_to="billing",
        p_transfer=0.1,
        transfer_note="Payment terms beyond 60 days need billing's approval.",
        transfer_act=Act("Approved 90-day payment terms with a direct debit mandate.", (15, 30)),
        visit=False,
        cases=(
            Case(
                symptom="A {business} asks for a yearly maintenance proposal for the kitchen "
                "equipment of its three premises in {city}.",
                synthesis="Wants a preventive maintenance contract covering three sites.",
                questions=(
                    "How many appliances per site, and how old are they?",
                    "What response time do you need for breakdowns?",
                ),
                findings="27 appliances in total; breakdowns stop the kitchen, so they need "
                "same-day response.",
                diagnosis="Premium maintenance plan with a four-hour response.",
                acts=(
                    Act("Drafted the proposal with two service levels.", (60, 120)),
                    Act("Presented the proposal on a video call.", (30, 60)),
                ),
                resolution="Proposal delivered; decision expected at the board meeting.",
                wait_reason="Waiting for the inventory of appliances per site.",
                reply="Inventory spreadsheet sent by the operations manager.",
                reopen_reason="The proposal left out the cold rooms.",
            ),
            Case(
                symptom="Asks for a proposal to renew the {product} units of a {business}.",
                synthesis="Renewal of several {product} units with financing.",
                questions=("How many units?", "Do you need financing?"),
                findings="Twelve units; they prefer renting over buying.",
                diagnosis="Renting proposal with maintenance included.",
                acts=(Act("Prepared a renting proposal over 48 months.", (45, 90)),),
                resolution="Proposal sent with the renting conditions.",
                wait_reason="Waiting for the company's tax details for the financing study.",
                reply="Tax details and last year's accounts sent.",
                reopen_reason="The monthly fee is higher than the one discussed by phone.",
            ),
        ),
    ),
    Kind.SERVICE_REQUEST: Need(
        stages=(Stage.SALE,),
        team="field-service",
        categories=("maintenance", "repair", "installation"),
        priorities=(10, 55, 28, 7),
        p_wait=0.3,
        p_follow_up=0.15,
        transfer_to="warranty",
        p_transfer=0.1,
        transfer_note="The fault is covered by the manufacturer's warranty: sent to warranty.",
        transfer_act=Act("Warranty claim filed with the manufacturer; part approved.", (20, 40)),
        visit=True,
        cases=(
            Case(
                symptom="The yearly maintenance of the {product} under contract is due; asks "
                "for a visit next week in {city}.",
                synthesis="Contract maintenance visit to schedule.",
                questions=("Which mornings suit you?", "Any fault since the last visit?"),
                findings="No faults reported; last service 11 months ago.",
                diagnosis="Routine preventive maintenance.",
                acts=(
                    Act(
                        "Maintenance visit: cleaned, checked pressures and safety devices.",
                        (60, 120),
                        0,
                    ),
                    Act("Replaced the worn gasket found during the visit.", (15, 30), 35),
                ),
                resolution="Maintenance done; next visit in twelve months.",
                wait_reason="Waiting for the customer to confirm someone will be home.",
                reply="Confirmed: the concierge will open the door.",
                reopen_reason="The {product} leaks since the maintenance visit.",
            ),
            Case(
                symptom="The {product} installed last month makes a loud noise when it starts.",
                synthesis="New installation with abnormal noise at start-up.",
                questions=(
                    "Is the noise constant or only when starting?",
                    "Was anything moved since the installation?",
                ),
                findings="Noise only at start-up; the unit rests directly on the tiles.",
                diagnosis="Missing anti-vibration mounts.",
                acts=(Act("Fitted anti-vibration mounts and levelled the unit.", (45, 90), 20),),
                resolution="Noise gone after fitting the mounts.",
                wait_reason="Asked for a video of the noise to prepare the visit.",
                reply="Video of the start-up sent.",
                reopen_reason="The noise came back after a week.",
            ),
        ),
    ),
    Kind.PETITION: Need(
        stages=(Stage.SALE,),
        team="frontline",
        categories=("contract-change", "documents", "appointment"),
        priorities=(30, 60, 10, 0),
        p_wait=0.3,
        p_follow_up=0.05,
        transfer_to="billing",
        p_transfer=0.2,
        transfer_note="Changing the direct debit must be done by billing.",
        transfer_act=Act("Updated the direct debit mandate and confirmed by email.", (10, 20)),
        visit=False,
        cases=(
            Case(
                symptom="Asks to change the bank account for the direct debits of the "
                "maintenance contract.",
                synthesis="Change of bank account on the contract.",
                questions=("Who is the account holder?", "From which invoice should it apply?"),
                findings="The account holder matches the contract holder.",
                diagnosis="Administrative change, no impact on the service.",
                acts=(Act("Sent the SEPA mandate form for signature.", (5, 15)),),
                resolution="Bank account changed from the next invoice.",
                wait_reason="Waiting for the signed SEPA mandate.",
                reply="Signed mandate sent as a PDF.",
                reopen_reason="The last invoice was still charged to the old account.",
            ),
            Case(
                symptom="Requests a copy of the contract and of invoices {invoice} to "
                "{invoice2} for the accountant.",
                synthesis="Wants copies of the contract and recent invoices.",
                questions=("Which email should we send them to?",),
                findings="All documents are in the customer area.",
                diagnosis="Document request.",
                acts=(Act("Sent the contract and the invoices by email.", (5, 10)),),
                resolution="Documents sent; customer area access explained.",
                wait_reason="Waiting for the customer to confirm the email address.",
                reply="Confirmed the accountant's email address.",
                reopen_reason="One of the invoices is missing from the email.",
            ),
        ),
    ),
    Kind.COMPLAINT: Need(
        stages=(Stage.SALE, Stage.POST_SALE),
        team="customer-care",
        categories=("missed-appointment", "waiting-time", "staff-attitude"),
        priorities=(5, 40, 40, 15),
        p_wait=0.25,
        p_follow_up=0.2,
        transfer_to="field-service",
        p_transfer=0.2,
        transfer_note="The visit must be rebooked by field-service with a fixed slot.",
        transfer_act=Act(
            "Rebooked the visit first thing in the morning, slot confirmed.", (10, 20)
        ),
        visit=False,
        cases=(
            Case(
                symptom="The technician did not show up in the agreed slot (9:00-13:00) and "
                "nobody called; the customer took the morning off.",
                synthesis="Missed appointment without notice.",
                questions=(
                    "On which day and slot was the visit booked?",
                    "Did you receive the confirmation SMS?",
                ),
                findings="The route of {weekday} was overbooked and the visit was dropped "
                "without notice.",
                diagnosis="Planning failure; the customer was not informed.",
                acts=(
                    Act("Apologised by phone and offered a priority slot.", (10, 20)),
                    Act("Applied a 30 EUR goodwill credit to the next invoice.", (5, 10)),
                ),
                resolution="Apology given, new slot confirmed and goodwill credit applied.",
                wait_reason="Waiting for the customer to choose a new slot.",
                reply="The customer prefers Thursday afternoon.",
                reopen_reason="The new visit was also late.",
            ),
            Case(
                symptom="Waited 40 minutes on the phone before being attended, and the call "
                "was cut.",
                synthesis="Long waiting time on the phone line and a dropped call.",
                questions=("At what time did you call?", "Which option of the menu?"),
                findings="Queue peak on Monday morning; the call was dropped by the switchboard.",
                diagnosis="Capacity problem at the Monday peak.",
                acts=(Act("Called back, solved the original question and apologised.", (10, 25)),),
                resolution="Original question solved; complaint passed to the planning team.",
                wait_reason="Waiting for the number the customer called from.",
                reply="Called from the landline of the shop.",
                reopen_reason="Still nobody answered the original question.",
            ),
        ),
    ),
    Kind.CLAIM: Need(
        stages=(Stage.SALE, Stage.POST_SALE),
        team="billing",
        categories=("invoice-error", "damaged-delivery", "refund"),
        priorities=(5, 45, 40, 10),
        p_wait=0.45,
        p_follow_up=0.1,
        transfer_to="field-service",
        p_transfer=0.2,
        transfer_note="The damage must be inspected on site: sent to field-service.",
        transfer_act=Act("Inspected the unit on site and photographed the damage.", (45, 75), 0),
        visit=False,
        cases=(
            Case(
                symptom="Invoice {invoice} charges a second visit that never happened; claims "
                "a refund of {amount} EUR.",
                synthesis="Charged for a visit that was not made.",
                questions=("On which date is the second visit charged?", "Was anyone at home?"),
                findings="The second visit was logged by mistake when the first one was moved.",
                diagnosis="Billing error; refund due.",
                acts=(
                    Act("Issued a credit note for {amount} EUR.", (10, 20)),
                    Act("Refund sent by bank transfer.", (5, 10), 0),
                ),
                resolution="Credit note issued and {amount} EUR refunded.",
                wait_reason="Waiting for a copy of the bank statement showing the charge.",
                reply="Bank statement sent.",
                reopen_reason="The refund has not arrived after ten days.",
            ),
            Case(
                symptom="The {product} was delivered with a dented side panel; claims a "
                "replacement.",
                synthesis="Delivered damaged; wants it replaced.",
                questions=(
                    "Did you note the damage on the delivery slip?",
                    "Can you send photos?",
                ),
                findings="Damage noted on the delivery slip; carrier liable.",
                diagnosis="Transport damage; replacement due.",
                acts=(Act("Ordered a replacement unit and booked the swap.", (20, 40), 0),),
                resolution="Unit replaced; the damaged one returned to the carrier.",
                wait_reason="Waiting for photos of the damage and of the delivery slip.",
                reply="Four photos sent, including the signed slip.",
                reopen_reason="The replacement unit has a scratch on the door.",
            ),
        ),
    ),
    Kind.SUGGESTION: Need(
        stages=(Stage.SALE,),
        team="customer-care",
        categories=("communication", "digital"),
        priorities=(70, 30, 0, 0),
        p_wait=0.05,
        p_follow_up=0.05,
        transfer_to=None,
        p_transfer=0.0,
        transfer_note="",
        transfer_act=Act("", (0, 0)),
        visit=False,
        cases=(
            Case(
                symptom="Suggests sending an SMS when the technician is on the way.",
                synthesis="Wants an 'on the way' notice before visits.",
                questions=("Would an SMS or an app notification suit you better?",),
                findings="Several customers asked for the same in the last quarter.",
                diagnosis="Improvement opportunity for the visit process.",
                acts=(Act("Logged the suggestion in the improvement backlog.", (5, 10)),),
                resolution="Thanked the customer; suggestion added to the improvement plan.",
                wait_reason="Asked which channel the customer prefers.",
                reply="SMS, please.",
                reopen_reason="The customer wants to know when it will be available.",
            ),
            Case(
                symptom="Proposes online booking of maintenance visits on the web.",
                synthesis="Wants self-service booking of visits.",
                questions=("Which visits would you book online?",),
                findings="Booking today only by phone.",
                diagnosis="Improvement opportunity for the web channel.",
                acts=(Act("Forwarded the proposal to the digital team.", (5, 10)),),
                resolution="Thanked the customer; proposal forwarded to the digital team.",
                wait_reason="Asked for more detail on the booking they would use.",
                reply="Mainly the yearly boiler maintenance.",
                reopen_reason="The customer wants an answer from the digital team.",
            ),
        ),
    ),
    Kind.REPORT: Need(
        stages=(Stage.SALE,),
        team="customer-care",
        categories=("fraud", "conduct", "environment"),
        priorities=(0, 30, 50, 20),
        p_wait=0.2,
        p_follow_up=0.15,
        transfer_to=None,
        p_transfer=0.0,
        transfer_note="",
        transfer_act=Act("", (0, 0)),
        visit=False,
        cases=(
            Case(
                symptom="Reports that someone claiming to work for the company offered a fake "
                "gas inspection at the door in {city}.",
                synthesis="Possible fraud using the company's name.",
                questions=("When and where did it happen?", "Did they show any identification?"),
                findings="No visit was planned at that address; two similar reports this week.",
                diagnosis="Door-to-door fraud attempt; not our staff.",
                acts=(
                    Act("Warned customers in {city} by SMS and on the web.", (20, 40)),
                    Act("Filed a report with the police with the details given.", (30, 60)),
                ),
                resolution="Customers warned and the police informed; thanked the customer.",
                wait_reason="Asked for a description of the people and the van.",
                reply="Two people, a white van without logos.",
                reopen_reason="The same people came back to the building.",
            ),
            Case(
                symptom="Reports an installer who left packaging and rubble in the shared "
                "area of the building.",
                synthesis="Installer left waste in the community's shared area.",
                questions=("On which day?", "Is the waste still there?"),
                findings="Installation of {weekday} at that address; waste not collected.",
                diagnosis="Breach of the site-cleaning procedure.",
                acts=(Act("Sent a team to collect the waste and clean the area.", (30, 60), 0),),
                resolution="Area cleaned; the installer's supervisor was informed.",
                wait_reason="Asked for a photo of the waste.",
                reply="Photo of the stairwell sent.",
                reopen_reason="Part of the packaging is still in the bin room.",
            ),
        ),
    ),
    Kind.WARRANTY: Need(
        stages=(Stage.POST_SALE,),
        team="warranty",
        categories=("repair", "replacement"),
        priorities=(5, 50, 35, 10),
        p_wait=0.5,
        p_follow_up=0.2,
        transfer_to="field-service",
        p_transfer=0.35,
        transfer_note="On-site repair needed: sent to field-service with the approved part.",
        transfer_act=Act("Technician replaced the faulty part on site.", (45, 90), 0),
        visit=False,
        cases=(
            Case(
                symptom="The {product} bought in {month} stopped cooling; still under warranty.",
                synthesis="{product} not cooling, within the two-year warranty.",
                questions=(
                    "When did you buy it and where?",
                    "Does the compressor start?",
                    "Any error code on the display?",
                ),
                findings="Bought in {month} in the {city} store; compressor starts and stops "
                "after a few seconds.",
                diagnosis="Faulty start relay; covered by the warranty.",
                acts=(Act("Ordered the start relay from the manufacturer.", (10, 20), 0),),
                resolution="Relay replaced under warranty; the unit cools again.",
                wait_reason="Waiting for the purchase receipt and a photo of the serial plate.",
                reply="Receipt and photo of the serial plate sent.",
                reopen_reason="It stopped cooling again two days later.",
            ),
            Case(
                symptom="The washing machine shows error E21 and does not drain; bought in "
                "{month}.",
                synthesis="Drain fault with error E21, under warranty.",
                questions=("Is the filter clean?", "Does the pump make any noise?"),
                findings="Filter clean; the pump hums but does not turn.",
                diagnosis="Blocked drain pump; warranty repair.",
                acts=(Act("Remote check with the customer; pump replacement approved.", (15, 30)),),
                resolution="Drain pump replaced under warranty.",
                wait_reason="Waiting for a video of the error on the display.",
                reply="Video of the E21 error sent.",
                reopen_reason="The error E21 came back after the repair.",
            ),
        ),
    ),
}

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
