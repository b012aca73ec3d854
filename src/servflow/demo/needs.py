"""The demo company's needs, as data: how it handles each kind, with typical cases of each.

Part of the demo's world (:mod:`servflow.demo.catalogue` holds the rest: customers, teams,
texts, findings, the pace of work). The stories draw from these tables with the simulation's
random generator, so changing or reordering an entry changes what a seed gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servflow import Kind, Stage


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
