"""A deterministic simulation of a busy service desk, for demos, docs and load.

The simulated company sells, installs and services home appliances and air conditioning in
Spain. Customers of three tiers reach it through six channels with every kind of need of the
source documents; six teams classify, probe (STAR), act, transfer, wait on customers, report
progress and complete; customers accept, reopen or withdraw; auditors log non-conformities
and team leads correct them.

Each request's story is planned first, as a list of steps with business-hour timestamps;
then the steps of all requests are merged into one timeline and executed in time order on a
desk whose clock is a :class:`SimClock`. Steps planned after the end of the simulated period
never happen, so the final state mixes closed, cancelled and in-flight requests. Everything
comes from ``random.Random(seed)``: the same seed gives the same store.

The pace follows the work: urgent requests are triaged and contacted first, spare parts and
technicians' visits take days, and the final week is a rush in which the desk falls behind.
Measured with :func:`demo_policy` (business hours in Madrid, targets by priority and tier),
most SLAs are met, some are missed, and the simulation ends with some clocks breached and
others at risk.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.desk import ServiceDesk
from servflow.domain.calendar import Calendar, Weekday
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import OPEN_STATUSES, NonConformity, Status
from servflow.domain.sla import CLOCK_NAMES, DEFAULT_POLICY, ClockState, DueAction
from servflow.domain.values import Channel, Customer, Kind, Outcome, Priority, Stage, Tier
from servflow.domain.view import Request

__all__ = ["DEFAULT_START", "DemoSummary", "SimClock", "demo_policy", "simulate"]

#: Monday 7 September 2026, 08:00 in Madrid: the first morning of the default simulation.
DEFAULT_START = datetime(2026, 9, 7, 8, 0, tzinfo=ZoneInfo("Europe/Madrid"))

_OPENING = time(8, 0)
_CLOSING = time(19, 0)
#: When the simulation stops on its last day.
_SNAPSHOT = time(16, 30)
_TRIAGE = "(triage)"

Ending = Literal["new", "waiting", "completed", "cancelled", "tour"]
_T = TypeVar("_T")


class SimClock:
    """A clock the simulator moves by hand; give it to the desk as ``clock=``."""

    def __init__(self, now: datetime = DEFAULT_START) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            msg = "a SimClock needs a timezone-aware datetime"
            raise ValueError(msg)
        self.now = now

    def __call__(self) -> datetime:
        """The simulated now."""
        return self.now


class DemoSummary(BaseModel):
    """What a simulation left in the store: counts to print and tickets worth a look."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int
    requests: int
    events: int
    started_at: AwareDatetime
    ended_at: AwareDatetime
    by_status: dict[str, int]
    by_kind: dict[str, int]
    by_stage: dict[str, int]
    by_channel: dict[str, int]
    by_tier: dict[str, int]
    #: Open requests per team (``"(triage)"`` when no team has them yet), then per status.
    open_by_team: dict[str, dict[str, int]]
    mean_satisfaction: float | None
    rated: int
    nonconformities_open: int
    nonconformities_corrected: int
    #: Hand-overs to another team (a request can be transferred more than once).
    transfers: int
    reopenings: int
    cancellations: int
    #: A transferred and reopened request whose history shows most of the lifecycle.
    featured: str | None
    #: The first ticket in each status, for "try next" suggestions.
    examples: dict[str, str]
    #: The SLA policy that measured the requests (``name vN``).
    sla_policy: str
    #: Per clock (first_response, resolution), how many requests' clocks end in each state.
    sla: dict[str, dict[str, int]]
    #: Clocks breached, and clocks at risk (in their warning window), at the end.
    breached: int
    at_risk: int
    #: Time-based events ``run_due`` recorded at the end (by ``system``).
    deemed_acceptances: int
    follow_ups_due: int


def demo_policy() -> SlaPolicy:
    """The demo company's SLA policy: office hours in Madrid, targets by priority and tier.

    Business time runs Monday to Friday, 09:00-14:00 and 15:00-18:00 (Europe/Madrid), except
    on national holidays. VIP customers get tighter targets; a clock warns at 70 % of its
    target; a customer silent for three business days after a completion has accepted it.
    """
    weekdays = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
    calendar = Calendar(
        name="madrid-office",
        timezone="Europe/Madrid",
        hours={day: [("09:00", "14:00"), ("15:00", "18:00")] for day in weekdays},
        holidays=frozenset({date(2026, 10, 12), date(2026, 12, 8), date(2026, 12, 25)}),
    )

    def rule(name: str, first: float, resolution: float, **selects: str) -> SlaRule:
        return SlaRule(
            name=name,
            first_response=timedelta(hours=first),
            resolution=timedelta(hours=resolution),
            **selects,
        )

    return SlaPolicy(
        name="demo-business-hours",
        calendar=calendar,
        rules=(
            rule("vip-urgent", 1, 12, priority=Priority.URGENT.value, tier=Tier.VIP.value),
            rule("urgent", 2, 16, priority=Priority.URGENT.value),
            rule("vip", 3, 24, tier=Tier.VIP.value),
            rule("high", 3, 24, priority=Priority.HIGH.value),
            rule("normal", 5, 32, priority=Priority.NORMAL.value),
            rule("low", 8, 64, priority=Priority.LOW.value),
        ),
        default=rule("unclassified", 8, 40),
        warn_at=0.7,
        deemed_acceptance_after=timedelta(hours=24),
    )


# -- the simulated company -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Client:
    id: str
    name: str
    tier: Tier
    language: str

    @property
    def customer(self) -> Customer:
        return Customer(id=self.id, name=self.name, tier=self.tier, language=self.language)

    @property
    def actor(self) -> str:
        return f"customer:{self.id}"


_CLIENTS = (
    _Client("hotel-mirador", "Hotel Mirador del Puerto", Tier.VIP, "es"),
    _Client("clinica-salud-norte", "Clínica Salud Norte", Tier.VIP, "es"),
    _Client("restaurantes-la-huerta", "Restaurantes La Huerta", Tier.VIP, "es"),
    _Client("brightwater-lettings", "Brightwater Lettings Ltd", Tier.VIP, "en"),
    _Client("colegio-san-jorge", "Colegio San Jorge", Tier.VIP, "es"),
    _Client("ferreteria-lopez", "Ferretería López", Tier.PREMIUM, "es"),
    _Client("panaderia-ortiz", "Panadería Ortiz", Tier.PREMIUM, "es"),
    _Client("gimnasio-vital", "Gimnasio Vital", Tier.PREMIUM, "es"),
    _Client("sunset-apartments", "Sunset Apartments Marbella", Tier.PREMIUM, "en"),
    _Client("oficinas-arco", "Oficinas Arco S.L.", Tier.PREMIUM, "es"),
    _Client("lucia-fernandez", "Lucía Fernández", Tier.PREMIUM, "es"),
    _Client("james-whitaker", "James Whitaker", Tier.PREMIUM, "en"),
    _Client("comunidad-los-olivos", "Comunidad de Propietarios Los Olivos 12", Tier.PREMIUM, "es"),
    _Client("bar-el-faro", "Bar El Faro", Tier.PREMIUM, "es"),
    _Client("green-leaf-cafe", "Green Leaf Café", Tier.PREMIUM, "en"),
    _Client("residencia-aurora", "Residencia Aurora", Tier.PREMIUM, "es"),
    _Client("maria-garcia", "María García", Tier.STANDARD, "es"),
    _Client("jose-martinez", "José Martínez", Tier.STANDARD, "es"),
    _Client("carmen-ruiz", "Carmen Ruiz", Tier.STANDARD, "es"),
    _Client("antonio-sanchez", "Antonio Sánchez", Tier.STANDARD, "es"),
    _Client("laura-gomez", "Laura Gómez", Tier.STANDARD, "es"),
    _Client("david-jimenez", "David Jiménez", Tier.STANDARD, "es"),
    _Client("pilar-navarro", "Pilar Navarro", Tier.STANDARD, "es"),
    _Client("francisco-romero", "Francisco Romero", Tier.STANDARD, "es"),
    _Client("rocio-torres", "Rocío Torres", Tier.STANDARD, "es"),
    _Client("manuel-dominguez", "Manuel Domínguez", Tier.STANDARD, "es"),
    _Client("nuria-vazquez", "Nuria Vázquez", Tier.STANDARD, "es"),
    _Client("alvaro-castillo", "Álvaro Castillo", Tier.STANDARD, "es"),
    _Client("cristina-molina", "Cristina Molina", Tier.STANDARD, "es"),
    _Client("sergio-ortega", "Sergio Ortega", Tier.STANDARD, "es"),
    _Client("beatriz-delgado", "Beatriz Delgado", Tier.STANDARD, "es"),
    _Client("raquel-serrano", "Raquel Serrano", Tier.STANDARD, "es"),
    _Client("hugo-marin", "Hugo Marín", Tier.STANDARD, "es"),
    _Client("sarah-collins", "Sarah Collins", Tier.STANDARD, "en"),
    _Client("peter-hughes", "Peter Hughes", Tier.STANDARD, "en"),
    _Client("emma-brown", "Emma Brown", Tier.STANDARD, "en"),
    _Client("oliver-grant", "Oliver Grant", Tier.STANDARD, "en"),
    _Client("margaret-oneill", "Margaret O'Neill", Tier.STANDARD, "en"),
    _Client("claire-dubois", "Claire Dubois", Tier.STANDARD, "fr"),
    _Client("tomas-herrera", "Tomás Herrera", Tier.STANDARD, "es"),
)
# Businesses call more often than households.
_CLIENT_WEIGHTS = tuple(
    {Tier.VIP: 3.0, Tier.PREMIUM: 2.0, Tier.STANDARD: 1.0}[c.tier] for c in _CLIENTS
)

_TEAMS: Mapping[str, tuple[str, ...]] = {
    "frontline": ("ana", "luis", "marta", "tom"),
    "sales": ("carmen", "javier", "emily"),
    "billing": ("lucia", "pablo"),
    "field-service": ("diego", "sofia", "raul", "jorge"),
    "warranty": ("elena", "miguel"),
    "customer-care": ("isabel", "andres"),
}
_AUDITORS = ("auditor:eva", "auditor:tomas")

_PRODUCTS = (
    "washing machine",
    "fridge-freezer",
    "dishwasher",
    "air-conditioning split",
    "gas boiler",
    "induction hob",
    "heat pump",
    "water heater",
)
_CITIES = ("Madrid", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Bilbao", "Alicante", "Murcia")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July")


@dataclass(frozen=True, slots=True)
class _Act:
    text: str
    effort: tuple[int, int]
    #: Highest cost in euros; 0 for actions that cost nothing but time.
    cost: int = 0


@dataclass(frozen=True, slots=True)
class _Case:
    symptom: str
    synthesis: str
    questions: tuple[str, ...]
    findings: str
    diagnosis: str
    acts: tuple[_Act, ...]
    resolution: str
    wait_reason: str
    reply: str
    reopen_reason: str


@dataclass(frozen=True, slots=True)
class _Need:
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
    transfer_act: _Act
    visit: bool
    cases: tuple[_Case, ...]


_NEEDS: Mapping[Kind, _Need] = {
    Kind.INFORMATION: _Need(
        stages=(Stage.PRE_SALE, Stage.POST_SALE),
        team="frontline",
        categories=("product-info", "delivery", "spare-parts"),
        priorities=(35, 55, 10, 0),
        p_wait=0.1,
        p_follow_up=0.05,
        transfer_to="sales",
        p_transfer=0.12,
        transfer_note="The customer wants a formal quote: sent to sales.",
        transfer_act=_Act("Prepared and emailed a quote with installation included.", (20, 45)),
        visit=False,
        cases=(
            _Case(
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
                    _Act("Sent the product sheet and installation conditions by email.", (5, 15)),
                ),
                resolution="Conditions explained; the customer will order on the web.",
                wait_reason="Waiting for the model reference the customer saw in the showroom.",
                reply="Sent a photo of the showroom label with the model reference.",
                reopen_reason="The installation price on the web differs from the one we gave.",
            ),
            _Case(
                symptom="Wants to know if filters and spare parts for a {product} bought in "
                "{month} are still sold, and where.",
                synthesis="Looking for original spare parts for a {product}.",
                questions=("What is the serial number on the plate?", "Which part is worn?"),
                findings="Parts catalogue lists the filter kit as available in the {city} store.",
                diagnosis="Post-sale information need; parts available.",
                acts=(_Act("Reserved the filter kit at the {city} store for pickup.", (5, 20)),),
                resolution="Part reserved; the customer will collect it this week.",
                wait_reason="Asked the customer for the serial number on the rating plate.",
                reply="Serial number sent by WhatsApp: it is on the back panel.",
                reopen_reason="The store says the reserved part is not the right one.",
            ),
        ),
    ),
    Kind.QUOTE: _Need(
        stages=(Stage.PRE_SALE,),
        team="sales",
        categories=("installation", "replacement", "maintenance-plan"),
        priorities=(15, 60, 20, 5),
        p_wait=0.35,
        p_follow_up=0.25,
        transfer_to="field-service",
        p_transfer=0.15,
        transfer_note="A site survey is needed before quoting: sent to field-service.",
        transfer_act=_Act(
            "Site survey done: measured the walls and the electrical panel.", (60, 120), 0
        ),
        visit=False,
        cases=(
            _Case(
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
                    _Act("Prepared a quote with two equipment options.", (30, 60)),
                    _Act("Called the customer to walk through the quote.", (10, 20)),
                ),
                resolution="Quote sent; valid for 30 days.",
                wait_reason="Waiting for the floor plan and photos of the terrace.",
                reply="Floor plan and three photos attached to the email.",
                reopen_reason="The quote is missing the removal of the old units.",
            ),
            _Case(
                symptom="Needs a price to replace an old {product} in a {business} in {city}.",
                synthesis="Replacement quote for a {product}, supply and installation.",
                questions=("What model is installed now?", "Is there parking for the van?"),
                findings="Current unit is 14 years old; the connections can be reused.",
                diagnosis="Like-for-like replacement.",
                acts=(_Act("Quote prepared with the energy-efficiency grant applied.", (25, 50)),),
                resolution="Quote sent with the grant paperwork.",
                wait_reason="Waiting for a photo of the current unit's rating plate.",
                reply="Photo of the rating plate sent.",
                reopen_reason="The grant amount in the quote is wrong.",
            ),
        ),
    ),
    Kind.PROPOSAL: _Need(
        stages=(Stage.PRE_SALE,),
        team="sales",
        categories=("maintenance-contract", "fleet-renewal"),
        priorities=(10, 55, 30, 5),
        p_wait=0.3,
        p_follow_up=0.3,
        transfer_to="billing",
        p_transfer=0.1,
        transfer_note="Payment terms beyond 60 days need billing's approval.",
        transfer_act=_Act("Approved 90-day payment terms with a direct debit mandate.", (15, 30)),
        visit=False,
        cases=(
            _Case(
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
                    _Act("Drafted the proposal with two service levels.", (60, 120)),
                    _Act("Presented the proposal on a video call.", (30, 60)),
                ),
                resolution="Proposal delivered; decision expected at the board meeting.",
                wait_reason="Waiting for the inventory of appliances per site.",
                reply="Inventory spreadsheet sent by the operations manager.",
                reopen_reason="The proposal left out the cold rooms.",
            ),
            _Case(
                symptom="Asks for a proposal to renew the {product} units of a {business}.",
                synthesis="Renewal of several {product} units with financing.",
                questions=("How many units?", "Do you need financing?"),
                findings="Twelve units; they prefer renting over buying.",
                diagnosis="Renting proposal with maintenance included.",
                acts=(_Act("Prepared a renting proposal over 48 months.", (45, 90)),),
                resolution="Proposal sent with the renting conditions.",
                wait_reason="Waiting for the company's tax details for the financing study.",
                reply="Tax details and last year's accounts sent.",
                reopen_reason="The monthly fee is higher than the one discussed by phone.",
            ),
        ),
    ),
    Kind.SERVICE_REQUEST: _Need(
        stages=(Stage.SALE,),
        team="field-service",
        categories=("maintenance", "repair", "installation"),
        priorities=(10, 55, 28, 7),
        p_wait=0.3,
        p_follow_up=0.15,
        transfer_to="warranty",
        p_transfer=0.1,
        transfer_note="The fault is covered by the manufacturer's warranty: sent to warranty.",
        transfer_act=_Act("Warranty claim filed with the manufacturer; part approved.", (20, 40)),
        visit=True,
        cases=(
            _Case(
                symptom="The yearly maintenance of the {product} under contract is due; asks "
                "for a visit next week in {city}.",
                synthesis="Contract maintenance visit to schedule.",
                questions=("Which mornings suit you?", "Any fault since the last visit?"),
                findings="No faults reported; last service 11 months ago.",
                diagnosis="Routine preventive maintenance.",
                acts=(
                    _Act(
                        "Maintenance visit: cleaned, checked pressures and safety devices.",
                        (60, 120),
                        0,
                    ),
                    _Act("Replaced the worn gasket found during the visit.", (15, 30), 35),
                ),
                resolution="Maintenance done; next visit in twelve months.",
                wait_reason="Waiting for the customer to confirm someone will be home.",
                reply="Confirmed: the concierge will open the door.",
                reopen_reason="The {product} leaks since the maintenance visit.",
            ),
            _Case(
                symptom="The {product} installed last month makes a loud noise when it starts.",
                synthesis="New installation with abnormal noise at start-up.",
                questions=(
                    "Is the noise constant or only when starting?",
                    "Was anything moved since the installation?",
                ),
                findings="Noise only at start-up; the unit rests directly on the tiles.",
                diagnosis="Missing anti-vibration mounts.",
                acts=(_Act("Fitted anti-vibration mounts and levelled the unit.", (45, 90), 20),),
                resolution="Noise gone after fitting the mounts.",
                wait_reason="Asked for a video of the noise to prepare the visit.",
                reply="Video of the start-up sent.",
                reopen_reason="The noise came back after a week.",
            ),
        ),
    ),
    Kind.PETITION: _Need(
        stages=(Stage.SALE,),
        team="frontline",
        categories=("contract-change", "documents", "appointment"),
        priorities=(30, 60, 10, 0),
        p_wait=0.3,
        p_follow_up=0.05,
        transfer_to="billing",
        p_transfer=0.2,
        transfer_note="Changing the direct debit must be done by billing.",
        transfer_act=_Act("Updated the direct debit mandate and confirmed by email.", (10, 20)),
        visit=False,
        cases=(
            _Case(
                symptom="Asks to change the bank account for the direct debits of the "
                "maintenance contract.",
                synthesis="Change of bank account on the contract.",
                questions=("Who is the account holder?", "From which invoice should it apply?"),
                findings="The account holder matches the contract holder.",
                diagnosis="Administrative change, no impact on the service.",
                acts=(_Act("Sent the SEPA mandate form for signature.", (5, 15)),),
                resolution="Bank account changed from the next invoice.",
                wait_reason="Waiting for the signed SEPA mandate.",
                reply="Signed mandate sent as a PDF.",
                reopen_reason="The last invoice was still charged to the old account.",
            ),
            _Case(
                symptom="Requests a copy of the contract and of invoices {invoice} to "
                "{invoice2} for the accountant.",
                synthesis="Wants copies of the contract and recent invoices.",
                questions=("Which email should we send them to?",),
                findings="All documents are in the customer area.",
                diagnosis="Document request.",
                acts=(_Act("Sent the contract and the invoices by email.", (5, 10)),),
                resolution="Documents sent; customer area access explained.",
                wait_reason="Waiting for the customer to confirm the email address.",
                reply="Confirmed the accountant's email address.",
                reopen_reason="One of the invoices is missing from the email.",
            ),
        ),
    ),
    Kind.COMPLAINT: _Need(
        stages=(Stage.SALE, Stage.POST_SALE),
        team="customer-care",
        categories=("missed-appointment", "waiting-time", "staff-attitude"),
        priorities=(5, 40, 40, 15),
        p_wait=0.25,
        p_follow_up=0.2,
        transfer_to="field-service",
        p_transfer=0.2,
        transfer_note="The visit must be rebooked by field-service with a fixed slot.",
        transfer_act=_Act(
            "Rebooked the visit first thing in the morning, slot confirmed.", (10, 20)
        ),
        visit=False,
        cases=(
            _Case(
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
                    _Act("Apologised by phone and offered a priority slot.", (10, 20)),
                    _Act("Applied a 30 EUR goodwill credit to the next invoice.", (5, 10)),
                ),
                resolution="Apology given, new slot confirmed and goodwill credit applied.",
                wait_reason="Waiting for the customer to choose a new slot.",
                reply="The customer prefers Thursday afternoon.",
                reopen_reason="The new visit was also late.",
            ),
            _Case(
                symptom="Waited 40 minutes on the phone before being attended, and the call "
                "was cut.",
                synthesis="Long waiting time on the phone line and a dropped call.",
                questions=("At what time did you call?", "Which option of the menu?"),
                findings="Queue peak on Monday morning; the call was dropped by the switchboard.",
                diagnosis="Capacity problem at the Monday peak.",
                acts=(_Act("Called back, solved the original question and apologised.", (10, 25)),),
                resolution="Original question solved; complaint passed to the planning team.",
                wait_reason="Waiting for the number the customer called from.",
                reply="Called from the landline of the shop.",
                reopen_reason="Still nobody answered the original question.",
            ),
        ),
    ),
    Kind.CLAIM: _Need(
        stages=(Stage.SALE, Stage.POST_SALE),
        team="billing",
        categories=("invoice-error", "damaged-delivery", "refund"),
        priorities=(5, 45, 40, 10),
        p_wait=0.45,
        p_follow_up=0.1,
        transfer_to="field-service",
        p_transfer=0.2,
        transfer_note="The damage must be inspected on site: sent to field-service.",
        transfer_act=_Act("Inspected the unit on site and photographed the damage.", (45, 75), 0),
        visit=False,
        cases=(
            _Case(
                symptom="Invoice {invoice} charges a second visit that never happened; claims "
                "a refund of {amount} EUR.",
                synthesis="Charged for a visit that was not made.",
                questions=("On which date is the second visit charged?", "Was anyone at home?"),
                findings="The second visit was logged by mistake when the first one was moved.",
                diagnosis="Billing error; refund due.",
                acts=(
                    _Act("Issued a credit note for {amount} EUR.", (10, 20)),
                    _Act("Refund sent by bank transfer.", (5, 10), 0),
                ),
                resolution="Credit note issued and {amount} EUR refunded.",
                wait_reason="Waiting for a copy of the bank statement showing the charge.",
                reply="Bank statement sent.",
                reopen_reason="The refund has not arrived after ten days.",
            ),
            _Case(
                symptom="The {product} was delivered with a dented side panel; claims a "
                "replacement.",
                synthesis="Delivered damaged; wants it replaced.",
                questions=(
                    "Did you note the damage on the delivery slip?",
                    "Can you send photos?",
                ),
                findings="Damage noted on the delivery slip; carrier liable.",
                diagnosis="Transport damage; replacement due.",
                acts=(_Act("Ordered a replacement unit and booked the swap.", (20, 40), 0),),
                resolution="Unit replaced; the damaged one returned to the carrier.",
                wait_reason="Waiting for photos of the damage and of the delivery slip.",
                reply="Four photos sent, including the signed slip.",
                reopen_reason="The replacement unit has a scratch on the door.",
            ),
        ),
    ),
    Kind.SUGGESTION: _Need(
        stages=(Stage.SALE,),
        team="customer-care",
        categories=("communication", "digital"),
        priorities=(70, 30, 0, 0),
        p_wait=0.05,
        p_follow_up=0.05,
        transfer_to=None,
        p_transfer=0.0,
        transfer_note="",
        transfer_act=_Act("", (0, 0)),
        visit=False,
        cases=(
            _Case(
                symptom="Suggests sending an SMS when the technician is on the way.",
                synthesis="Wants an 'on the way' notice before visits.",
                questions=("Would an SMS or an app notification suit you better?",),
                findings="Several customers asked for the same in the last quarter.",
                diagnosis="Improvement opportunity for the visit process.",
                acts=(_Act("Logged the suggestion in the improvement backlog.", (5, 10)),),
                resolution="Thanked the customer; suggestion added to the improvement plan.",
                wait_reason="Asked which channel the customer prefers.",
                reply="SMS, please.",
                reopen_reason="The customer wants to know when it will be available.",
            ),
            _Case(
                symptom="Proposes online booking of maintenance visits on the web.",
                synthesis="Wants self-service booking of visits.",
                questions=("Which visits would you book online?",),
                findings="Booking today only by phone.",
                diagnosis="Improvement opportunity for the web channel.",
                acts=(_Act("Forwarded the proposal to the digital team.", (5, 10)),),
                resolution="Thanked the customer; proposal forwarded to the digital team.",
                wait_reason="Asked for more detail on the booking they would use.",
                reply="Mainly the yearly boiler maintenance.",
                reopen_reason="The customer wants an answer from the digital team.",
            ),
        ),
    ),
    Kind.REPORT: _Need(
        stages=(Stage.SALE,),
        team="customer-care",
        categories=("fraud", "conduct", "environment"),
        priorities=(0, 30, 50, 20),
        p_wait=0.2,
        p_follow_up=0.15,
        transfer_to=None,
        p_transfer=0.0,
        transfer_note="",
        transfer_act=_Act("", (0, 0)),
        visit=False,
        cases=(
            _Case(
                symptom="Reports that someone claiming to work for the company offered a fake "
                "gas inspection at the door in {city}.",
                synthesis="Possible fraud using the company's name.",
                questions=("When and where did it happen?", "Did they show any identification?"),
                findings="No visit was planned at that address; two similar reports this week.",
                diagnosis="Door-to-door fraud attempt; not our staff.",
                acts=(
                    _Act("Warned customers in {city} by SMS and on the web.", (20, 40)),
                    _Act("Filed a report with the police with the details given.", (30, 60)),
                ),
                resolution="Customers warned and the police informed; thanked the customer.",
                wait_reason="Asked for a description of the people and the van.",
                reply="Two people, a white van without logos.",
                reopen_reason="The same people came back to the building.",
            ),
            _Case(
                symptom="Reports an installer who left packaging and rubble in the shared "
                "area of the building.",
                synthesis="Installer left waste in the community's shared area.",
                questions=("On which day?", "Is the waste still there?"),
                findings="Installation of {weekday} at that address; waste not collected.",
                diagnosis="Breach of the site-cleaning procedure.",
                acts=(_Act("Sent a team to collect the waste and clean the area.", (30, 60), 0),),
                resolution="Area cleaned; the installer's supervisor was informed.",
                wait_reason="Asked for a photo of the waste.",
                reply="Photo of the stairwell sent.",
                reopen_reason="Part of the packaging is still in the bin room.",
            ),
        ),
    ),
    Kind.WARRANTY: _Need(
        stages=(Stage.POST_SALE,),
        team="warranty",
        categories=("repair", "replacement"),
        priorities=(5, 50, 35, 10),
        p_wait=0.5,
        p_follow_up=0.2,
        transfer_to="field-service",
        p_transfer=0.35,
        transfer_note="On-site repair needed: sent to field-service with the approved part.",
        transfer_act=_Act("Technician replaced the faulty part on site.", (45, 90), 0),
        visit=False,
        cases=(
            _Case(
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
                acts=(_Act("Ordered the start relay from the manufacturer.", (10, 20), 0),),
                resolution="Relay replaced under warranty; the unit cools again.",
                wait_reason="Waiting for the purchase receipt and a photo of the serial plate.",
                reply="Receipt and photo of the serial plate sent.",
                reopen_reason="It stopped cooling again two days later.",
            ),
            _Case(
                symptom="The washing machine shows error E21 and does not drain; bought in "
                "{month}.",
                synthesis="Drain fault with error E21, under warranty.",
                questions=("Is the filter clean?", "Does the pump make any noise?"),
                findings="Filter clean; the pump hums but does not turn.",
                diagnosis="Blocked drain pump; warranty repair.",
                acts=(
                    _Act("Remote check with the customer; pump replacement approved.", (15, 30)),
                ),
                resolution="Drain pump replaced under warranty.",
                wait_reason="Waiting for a video of the error on the display.",
                reply="Video of the E21 error sent.",
                reopen_reason="The error E21 came back after the repair.",
            ),
        ),
    ),
}

_WITHDRAWALS = (
    "The customer bought the {product} elsewhere and withdrew the request.",
    "The customer solved it themselves and withdrew the request.",
    "Withdrawn: the customer will call again next month.",
)
_PROGRESS = (
    "Technician visit booked for {weekday} between 9:00 and 13:00.",
    "The spare part is ordered from the manufacturer; expected in three to five working days.",
    "Your request is being handled by {team}; we will call you before {weekday}.",
)
_FIXES = (
    _Act("Second visit: replaced the control board and tested for an hour.", (60, 120), 140),
    _Act("Checked again with the customer and corrected the configuration.", (20, 45)),
    _Act("Escalated to the team lead, who solved it with the customer.", (30, 60)),
)
_COMMENTS: Mapping[int, tuple[str, ...]] = {
    5: ("Quick and friendly, thank you.", "Muy bien: the technician explained everything."),
    4: ("Solved, thanks.", "Good service, although the visit was late."),
    3: ("Solved, but it took longer than I expected.", "I had to explain it twice."),
    2: ("I had to call three times.", "Nobody told me my request had changed department."),
    1: ("Very poor: nobody kept me informed.",),
}


@dataclass(frozen=True, slots=True)
class _Finding:
    description: str
    severity: str
    category: str
    root_cause: str
    corrective_action: str
    correction: str


_NONCONFORMITIES = (
    _Finding(
        "The first response reached the customer after the time promised in the receipt.",
        "major",
        "response-time",
        "The request sat in the triage queue over a weekend with nobody on the rota.",
        "Add a Monday 8:00 triage slot for weekend requests.",
        "Triage rota updated: the weekend backlog is cleared first thing on Monday.",
    ),
    _Finding(
        "The transfer to another department was not communicated to the customer.",
        "minor",
        "communication",
        "The transfer template has no customer message.",
        "Send a progress report with every transfer.",
        "Transfer checklist now includes a progress report to the customer.",
    ),
    _Finding(
        "Action recorded without the technician's findings; the visit cannot be audited.",
        "minor",
        "documentation",
        "The field app lets a visit be closed without notes.",
        "Make visit notes mandatory in the field app.",
        "Field app updated: visit notes are mandatory.",
    ),
    _Finding(
        "Refund approved without the second signature required above 150 EUR.",
        "major",
        "billing-control",
        "The approver was on holiday and no substitute was named.",
        "Name a substitute approver for every holiday period.",
        "Substitute approvers are now named in the billing calendar.",
    ),
    _Finding(
        "The customer's invoice was emailed to another customer.",
        "critical",
        "data-protection",
        "Two customer records shared an email address after a merge.",
        "Deduplicate customer records and check the address before sending.",
        "Records deduplicated; the data-protection officer informed the customer.",
    ),
    _Finding(
        "A call-back promised to the customer never happened.",
        "major",
        "communication",
        "Call-backs are noted on paper, not in the request.",
        "Record every promised call-back as a follow-up.",
        "Agents trained to record call-backs as follow-ups; paper notes banned.",
    ),
)


# -- business time ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hours:
    """Monday to Friday, 08:00-19:00 in one zone: when the desk works and customers answer."""

    zone: tzinfo

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, _OPENING, self.zone)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, _CLOSING, self.zone)

    def next_open(self, when: datetime) -> datetime:
        """``when`` if the desk is open then, else the next opening."""
        local = when.astimezone(self.zone)
        day = local.date()
        while True:
            if day.weekday() < 5 and local < self.closing(day):  # noqa: PLR2004 - Mon-Fri
                return max(local, self.opening(day))
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), self.zone)

    def add(self, when: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` of business time after ``when``.

        Wall-clock arithmetic is exact here: clocks change at night, outside business hours.
        """
        remaining = timedelta(minutes=minutes)
        at = self.next_open(when)
        while True:
            left = self.closing(at.date()) - at
            if remaining <= left:
                return at + remaining
            remaining -= left
            at = self.next_open(self.closing(at.date()))

    def days(self, start: datetime, end: datetime) -> list[date]:
        """The working days from ``start`` up to ``end``."""
        days: list[date] = []
        day = start.astimezone(self.zone).date()
        while self.opening(day) < end:
            if day.weekday() < 5:  # noqa: PLR2004 - Mon-Fri
                days.append(day)
            day += timedelta(days=1)
        return days


# -- planning ------------------------------------------------------------------------------

Command = Callable[[ServiceDesk, str], Request | NonConformity]


@dataclass(frozen=True, slots=True)
class _Step:
    at: datetime
    request: int
    seq: int
    command: Command


@dataclass(frozen=True, slots=True)
class _Profile:
    kind: Kind
    stage: Stage
    channel: Channel
    client: _Client
    case: _Case
    words: Mapping[str, str]


@dataclass
class _Story:
    """The planned life of one request: steps with their business-hour timestamps."""

    index: int
    profile: _Profile
    opened_at: datetime
    hours: _Hours
    rng: random.Random
    tickets: dict[int, str]
    #: An earlier request of the same customer, which this one may duplicate.
    earlier: int | None
    ending: Ending | None = None
    steps: list[_Step] = field(default_factory=list)
    at: datetime = field(init=False)
    team: str = field(init=False)
    agent: str = field(init=False)
    nonconformities: int = 0
    waited: bool = False
    transferred: bool = False
    reopened: bool = False
    priority: Priority | None = None
    #: How much slower than usual the desk answers (the busy final week is behind).
    load: float = 1.0

    def __post_init__(self) -> None:
        self.at = self.opened_at
        self.team = _NEEDS[self.profile.kind].team
        self.agent = self.rng.choice(_TEAMS[self.team])

    # -- helpers -------------------------------------------------------------------------

    @property
    def need(self) -> _Need:
        return _NEEDS[self.profile.kind]

    @property
    def client(self) -> _Client:
        return self.profile.client

    def text(self, template: str) -> str:
        return template.format_map(dict(self.profile.words))

    def later(self, low: int, high: int) -> None:
        """Move this story on by a random number of business minutes."""
        self.at = self.hours.add(self.at, max(1, self.rng.randint(low, high)))

    def busy(self, low: int, high: int) -> None:
        """Move on by the time the desk's own work takes: longer when it is behind."""
        self.later(*self.loaded((low, high)))

    def step(self, command: Command) -> None:
        self.steps.append(_Step(self.at, self.index, len(self.steps), command))

    def agent_actor(self) -> str:
        return f"agent:{self.agent}"

    def lead(self) -> str:
        return f"agent:{_TEAMS[self.team][0]}"

    # -- the lifecycle -------------------------------------------------------------------

    def plan(self) -> list[_Step]:
        """Plan the whole story (it may run past the end of the simulation)."""
        self.open()
        if self.ending == "tour":
            self.tour()
        elif self.ending != "new" and not self.duplicate():
            self.handle()
        return self.steps

    def duplicate(self) -> bool:
        """Sometimes the customer already asked: the request is cancelled as a duplicate."""
        if self.ending is not None or self.earlier is None or self.rng.random() >= 0.04:  # noqa: PLR2004
            return False
        self.later(10, 90)
        self.cancel_duplicate()
        return True

    def handle(self) -> None:
        """Triage, STAR contact, resolution and the customer's answer."""
        # Triage sees how urgent a request is before it records so: urgent work goes first.
        self.priority = self.choose_priority()
        triage, contact = _PACE[self.priority]
        self.later(*self.pace(triage))
        self.classify()
        self.later(5, 45)
        unstaffed = self.rng.random() < 0.15  # noqa: PLR2004
        self.assign(with_agent=not unstaffed)
        if unstaffed:
            self.later(20, 180)
            self.assign(with_agent=True)
        if self.ending == "cancelled" or (self.ending is None and self.rng.random() < 0.03):  # noqa: PLR2004
            self.later(60, 900)
            self.withdraw()
            return
        low, high = self.pace(contact)
        if self.rng.random() < 0.06 * self.load:
            low, high = high, 3 * high
        self.later(low, high)
        self.probe()
        # A pinned "completed" story takes the short road, so that it gets there in time.
        direct = self.ending == "completed"
        if self.ending == "waiting" or (not direct and self.rng.random() < self.need.p_wait):
            self.later(5, 60)
            self.wait()
            if not self.answered():
                return
        self.work()
        if not direct and self.need.transfer_to and self.rng.random() < self.need.p_transfer:
            self.transfer(self.need.transfer_to)
        if self.rng.random() < 0.25:  # noqa: PLR2004
            self.later(60, 600)
            self.progress()
        self.busy(10, 240)
        self.complete()
        if self.ending != "completed":
            self.react()

    def answered(self) -> bool:
        """Whether the customer answers the question the request waits on."""
        if self.ending == "waiting":
            return False
        if self.rng.random() < 0.08:  # noqa: PLR2004 - some customers never answer
            if self.rng.random() < 0.5:  # noqa: PLR2004
                self.later(2400, 3300)
                self.cancel_unanswered()
            return False
        self.later(60, 1800)
        self.respond()
        return True

    def open(self) -> None:
        profile = self.profile
        if profile.channel in {Channel.WEB, Channel.MOBILE_APP}:
            actor = self.client.actor
        elif profile.channel is Channel.EMAIL:
            actor = "integration:mailbox"
        else:
            actor = f"agent:{self.rng.choice(_TEAMS['frontline'])}"
        symptom = self.text(profile.case.symptom)
        synthesis = self.text(profile.case.synthesis)
        customer = self.client.customer

        def run(desk: ServiceDesk, _: str) -> Request:
            return desk.open(
                customer=customer,
                channel=profile.channel,
                kind=profile.kind,
                stage=profile.stage,
                symptom=symptom,
                synthesis=synthesis,
                actor=actor,
            )

        self.step(run)

    def choose_priority(self) -> Priority:
        """The priority triage will give: the need's usual mix, often raised for VIPs."""
        priority = self.rng.choices(list(Priority), weights=self.need.priorities)[0]
        return _raise(priority, self.client.tier, self.rng)

    def pace(self, minutes: tuple[int, int]) -> tuple[int, int]:
        """A delay range in business minutes; VIP customers wait about half as long."""
        low, high = minutes
        return (low, max(low, high // 2)) if self.client.tier is Tier.VIP else (low, high)

    def loaded(self, minutes: tuple[int, int]) -> tuple[int, int]:
        """A delay range stretched by the desk's load."""
        return (round(minutes[0] * self.load), round(minutes[1] * self.load))

    def visit(self) -> tuple[int, int]:
        """Business minutes until a technician's visit: the most urgent go on the next route."""
        return self.loaded(_VISIT[self.priority or Priority.NORMAL])

    def classify(self) -> None:
        priority = self.priority or self.choose_priority()
        corrected = {Kind.COMPLAINT: Kind.CLAIM, Kind.CLAIM: Kind.COMPLAINT}.get(self.profile.kind)
        kind = corrected if corrected and self.rng.random() < 0.08 else None  # noqa: PLR2004
        category = self.rng.choice(self.need.categories)
        actor = f"agent:{self.rng.choice(_TEAMS['frontline'])}"
        self.step(
            lambda desk, ref: desk.classify(
                ref, priority=priority, kind=kind, category=category, actor=actor
            )
        )

    def assign(self, *, with_agent: bool, team: str | None = None) -> None:
        if team is not None:
            self.team = team
            self.agent = self.rng.choice(_TEAMS[team])
        chosen_team, agent = self.team, self.agent if with_agent else None
        actor = self.lead()
        self.step(lambda desk, ref: desk.assign(ref, team=chosen_team, agent=agent, actor=actor))

    def probe(self, questions: Sequence[str] | None = None, findings: str | None = None) -> None:
        case = self.profile.case
        asked = tuple(self.text(q) for q in (questions or case.questions))
        found = self.text(findings or case.findings)
        diagnosis = None if findings else self.text(case.diagnosis)
        actor = self.agent_actor()
        self.step(
            lambda desk, ref: desk.probe(
                ref, questions=list(asked), findings=found, diagnosis=diagnosis, actor=actor
            )
        )

    def act(self, act: _Act) -> None:
        text = self.text(act.text)
        effort = self.rng.randint(*act.effort) if act.effort[1] else 0
        cost = f"{self.rng.randint(act.cost // 3, act.cost)}.{self.rng.choice(('00', '50', '90'))}"
        price = cost if act.cost else None
        actor = self.agent_actor()
        self.step(
            lambda desk, ref: desk.act(
                ref, action=text, effort_minutes=effort, cost=price, actor=actor
            )
        )

    def work(self) -> None:
        """The STAR actions, with a booked visit first where the need calls for one."""
        if self.need.visit:
            self.later(20, 120)
            self.progress(_PROGRESS[0])
            self.later(*self.visit())
        for number, act in enumerate(self.profile.case.acts):
            self.busy(20, 300)
            self.act(act)
            if number == 0 and self.rng.random() < _PARTS.get(self.profile.kind, 0.0):
                # The clock keeps running: the wait is the company's, not the customer's.
                self.later(10, 60)
                self.progress(_PROGRESS[1])
                self.busy(900, 2700)

    def wait(self) -> None:
        reason = self.text(self.profile.case.wait_reason)
        actor = self.agent_actor()
        self.waited = True
        self.step(lambda desk, ref: desk.wait_on_customer(ref, reason=reason, actor=actor))

    def respond(self) -> None:
        note = self.text(self.profile.case.reply)
        actor = self.client.actor
        self.step(lambda desk, ref: desk.customer_responded(ref, note=note, actor=actor))

    def progress(self, template: str | None = None) -> None:
        message = self.text(template or self.rng.choice(_PROGRESS))
        actor = self.agent_actor()
        self.step(lambda desk, ref: desk.report_progress(ref, message=message, actor=actor))

    def transfer(self, team: str) -> None:
        note = self.need.transfer_note
        actor = self.agent_actor()
        self.later(10, 120)
        self.step(
            lambda desk, ref: desk.complete(
                ref, outcome=Outcome.TRANSFERRED, resolution=note, to_team=team, actor=actor
            )
        )
        self.transferred = True
        self.busy(60, 1200)
        self.assign(with_agent=True, team=team)
        self.busy(30, 480)
        self.probe(
            questions=("Has anything changed since your first contact?",),
            findings="Picked up from the previous team's notes: "
            + self.text(self.profile.case.diagnosis),
        )
        if team == "field-service":
            self.later(20, 120)
            self.progress(_PROGRESS[0])
            self.later(*self.visit())
        else:
            self.busy(60, 900)
        self.act(self.need.transfer_act)

    def fix(self, act: _Act) -> None:
        """Work again after a reopening, and complete again."""
        self.act(act)
        self.later(10, 180)
        self.complete(
            outcome=Outcome.RESOLVED, resolution=f"Solved after the reopening. {act.text}"
        )

    def complete(self, *, outcome: Outcome | None = None, resolution: str | None = None) -> None:
        if outcome is None:
            follow = self.rng.random() < self.need.p_follow_up
            outcome = Outcome.FOLLOW_UP if follow else Outcome.RESOLVED
        follow_up_at = None
        resolution = self.text(resolution or self.profile.case.resolution)
        if outcome is Outcome.FOLLOW_UP:
            day = self.at + timedelta(days=self.rng.randint(3, 10))
            follow_up_at = self.hours.next_open(day.replace(hour=10, minute=0, second=0))
            resolution += " We will call to check in a few days."
        actor = self.agent_actor()
        self.step(
            lambda desk, ref: desk.complete(
                ref,
                outcome=outcome,
                resolution=resolution,
                follow_up_at=follow_up_at,
                actor=actor,
            )
        )
        if follow_up_at is not None:
            self.at = max(self.at, follow_up_at)

    def react(self) -> None:
        """The customer's answer to the completion: accept, reopen or (for now) silence."""
        self.later(30, 1320)
        chance = self.rng.random()
        if chance < 0.06:  # noqa: PLR2004 - silent: still awaiting acceptance
            return
        if chance < 0.16:  # noqa: PLR2004
            reason = self.text(self.profile.case.reopen_reason)
            actor = self.client.actor
            self.step(lambda desk, ref: desk.reopen(ref, reason=reason, actor=actor))
            self.reopened = True
            self.later(60, 1200)
            self.fix(self.rng.choice(_FIXES))
            self.later(120, 2400)
            if self.rng.random() < 0.1:  # noqa: PLR2004
                return
        self.accept()
        self.audit()

    def accept(self, score: int | None = None) -> None:
        if score is None:
            mood = 4.4 + self.rng.gauss(0, 0.7)
            mood -= 1.3 * self.reopened + 0.5 * self.transferred + 0.3 * self.waited
            mood -= 0.8 * (self.nonconformities > 0)
            score = min(5, max(1, round(mood)))
        comment = self.rng.choice(_COMMENTS[score]) if self.rng.random() < 0.6 else None  # noqa: PLR2004
        actor = self.client.actor
        self.step(
            lambda desk, ref: desk.accept(ref, satisfaction=score, comment=comment, actor=actor)
        )

    def audit(self, finding: _Finding | None = None, *, corrected: bool | None = None) -> None:
        """Maybe an auditor documents a non-conformity, and maybe a team lead corrects it."""
        chance = 0.06 + 0.1 * self.reopened + 0.05 * self.transferred
        if finding is None and self.rng.random() >= chance:
            return
        finding = finding or self.rng.choice(_NONCONFORMITIES)
        self.later(240, 4800)
        self.nonconformities += 1
        number = self.nonconformities
        auditor = self.rng.choice(_AUDITORS)
        self.step(
            lambda desk, ref: desk.log_nonconformity(
                ref,
                description=finding.description,
                severity=finding.severity,
                category=finding.category,
                root_cause=finding.root_cause,
                corrective_action=finding.corrective_action,
                actor=auditor,
            )
        )
        if corrected is None:
            corrected = self.rng.random() < 0.65  # noqa: PLR2004
        if corrected:
            self.later(240, 2400)
            lead = self.lead()
            self.step(
                lambda desk, ref: desk.correct_nonconformity(
                    ref, number, correction=finding.correction, actor=lead
                )
            )

    def cancel(self, reason: str, actor: str) -> None:
        self.step(lambda desk, ref: desk.cancel(ref, reason=reason, actor=actor))

    def cancel_duplicate(self) -> None:
        earlier, tickets = self.earlier, self.tickets
        channel = self.profile.channel.value.replace("_", " ")
        actor = f"agent:{self.rng.choice(_TEAMS['frontline'])}"

        def run(desk: ServiceDesk, ref: str) -> Request:
            original = tickets[earlier] if earlier is not None else "an earlier request"
            reason = f"Duplicate of {original}: the customer reported it again by {channel}."
            return desk.cancel(ref, reason=reason, actor=actor)

        self.step(run)

    def withdraw(self) -> None:
        self.cancel(self.text(self.rng.choice(_WITHDRAWALS)), self.client.actor)

    def cancel_unanswered(self) -> None:
        reason = "No answer from the customer after three reminders; closed as withdrawn."
        self.cancel(reason, self.agent_actor())

    def tour(self) -> None:
        """Most of the lifecycle in one request: the demo prints its history."""
        self.later(10, 30)
        self.classify()
        self.later(5, 20)
        self.assign(with_agent=True)
        self.later(20, 60)
        self.probe()
        self.later(5, 15)
        self.wait()
        self.later(120, 480)
        self.respond()
        self.later(30, 120)
        self.act(self.profile.case.acts[0])
        self.transfer("field-service")
        self.later(60, 240)
        self.complete(outcome=Outcome.RESOLVED)
        self.later(600, 1200)
        reason = self.text(self.profile.case.reopen_reason)
        actor = self.client.actor
        self.step(lambda desk, ref: desk.reopen(ref, reason=reason, actor=actor))
        self.reopened = True
        self.later(60, 240)
        self.fix(_FIXES[0])
        self.later(240, 900)
        self.accept(score=3)
        self.audit(_NONCONFORMITIES[1], corrected=True)


#: Business minutes from opening to classification, then from assignment to the first STAR
#: contact (which meets the first-response clock), by priority.
_PACE: Mapping[Priority, tuple[tuple[int, int], tuple[int, int]]] = {
    Priority.URGENT: ((2, 30), (5, 40)),
    Priority.HIGH: ((5, 90), (10, 120)),
    Priority.NORMAL: ((10, 180), (15, 300)),
    Priority.LOW: ((10, 300), (20, 480)),
}

#: How often the first action orders a spare part, by kind; the part takes days to come.
_PARTS: Mapping[Kind, float] = {Kind.SERVICE_REQUEST: 0.25, Kind.WARRANTY: 0.4, Kind.CLAIM: 0.1}
#: Business minutes from booking a technician's visit to the visit, by priority.
_VISIT: Mapping[Priority, tuple[int, int]] = {
    Priority.URGENT: (120, 600),
    Priority.HIGH: (300, 1200),
    Priority.NORMAL: (600, 1800),
    Priority.LOW: (900, 2400),
}


def _raise(priority: Priority, tier: Tier, rng: random.Random) -> Priority:
    """VIP customers often get one level more urgency (source 004: differentiated service)."""
    if tier is Tier.VIP and rng.random() < 0.5:  # noqa: PLR2004
        order = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
        return order[min(order.index(priority) + 1, len(order) - 1)]
    return priority


# -- the simulation ------------------------------------------------------------------------


def _words(rng: random.Random, day: date) -> dict[str, str]:
    invoice = rng.randint(24000, 26999)
    return {
        "product": rng.choice(_PRODUCTS),
        "city": rng.choice(_CITIES),
        "month": rng.choice(_MONTHS),
        "invoice": f"F-2026-{invoice}",
        "invoice2": f"F-2026-{invoice + rng.randint(3, 40)}",
        "amount": f"{rng.randint(45, 180)}",
        "n": str(rng.randint(2, 5)),
        "business": rng.choice(("restaurant", "hotel", "gym", "clinic", "school", "bakery")),
        "weekday": (day + timedelta(days=rng.randint(1, 3))).strftime("%A"),
        "team": "the field-service team",
    }


def _deck(rng: random.Random, items: Sequence[_T], count: int, pick: Callable[[], _T]) -> list[_T]:
    """``count`` picks that cover every item first (when count allows), then ``pick()``."""
    covered = list(items)
    rng.shuffle(covered)
    return [covered[i] if i < len(covered) else pick() for i in range(count)]


def _arrivals(
    rng: random.Random, hours: _Hours, start: datetime, end: datetime, n: int
) -> list[datetime]:
    days = hours.days(start, end)
    weights = [(1.4, 1.1, 1.0, 1.0, 0.8)[day.weekday()] for day in days]
    moments: list[datetime] = []
    for day in rng.choices(days, weights=weights, k=n):
        # Busiest mid-morning, a second wave after lunch; the last day ends early.
        opening = hours.opening(day)
        share = min(1.0, (min(hours.closing(day), end) - opening) / (hours.closing(day) - opening))
        minute = int(rng.triangular(0, 659, 150) if rng.random() < 0.65 else rng.uniform(330, 659))  # noqa: PLR2004
        offset = timedelta(minutes=int(minute * share), seconds=rng.randint(0, 59))
        moments.append(min(opening + offset, end))
    moments = [max(m, start) for m in moments if m <= end]
    moments.sort()
    return moments


def simulate(
    desk: ServiceDesk,
    *,
    clock: SimClock,
    requests: int = 300,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    weeks: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Fill ``desk`` with ``requests`` simulated requests over ``weeks`` business weeks.

    ``desk`` must have been created with ``clock=clock``: the simulator moves that clock to
    each step's instant before running it. ``progress(done, total)`` is called as steps run.
    At the end it brings the desk's projections up to date, records the deemed acceptances and
    follow-ups that came due (``run_due``), and measures every request's SLA clocks as of the
    end. The same seed on an empty store always gives the same requests, events and summary.
    A desk opened with ``projections="external"`` simulates several times faster. Give the
    desk ``sla=demo_policy()`` for the demo company's business hours and targets.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        msg = "start must be a timezone-aware datetime"
        raise ValueError(msg)
    if requests < 0 or weeks < 1:
        msg = "requests must be 0 or more and weeks 1 or more"
        raise ValueError(msg)
    rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
    hours = _Hours(start.tzinfo)
    start = hours.next_open(start)
    # The simulation stops on the last afternoon, with the day's work in hand.
    end = datetime.combine(
        hours.days(start, start + timedelta(weeks=weeks))[-1], _SNAPSHOT, hours.zone
    )

    arrivals = _arrivals(rng, hours, start, end, requests)
    # The final week is a rush (a late heat wave): the desk falls behind, so the simulation
    # ends with some requests overdue and others about to be.
    days = hours.days(start, end)
    rush = hours.opening(days[max(0, len(days) - _RUSH_DAYS)])
    count = len(arrivals)
    kinds = _deck(rng, list(Kind), count, lambda: rng.choices(list(Kind), weights=_KIND_WEIGHTS)[0])
    channels = _deck(
        rng, list(Channel), count, lambda: rng.choices(list(Channel), weights=_CHANNEL_WEIGHTS)[0]
    )
    endings = _endings(rng, arrivals, end, hours)
    tickets: dict[int, str] = {}
    last_of: dict[str, int] = {}
    steps: list[_Step] = []
    for index, opened_at in enumerate(arrivals):
        ending = endings.get(index)
        kind, channel = kinds[index], channels[index]
        client = rng.choices(_CLIENTS, weights=_CLIENT_WEIGHTS)[0]
        if ending == "tour":
            kind, channel = Kind.WARRANTY, Channel.PHONE
        need = _NEEDS[kind]
        stage = rng.choice(need.stages)
        profile = _Profile(
            kind=kind,
            stage=stage,
            channel=channel,
            client=client,
            case=rng.choice(need.cases),
            words=_words(rng, opened_at.date()),
        )
        story = _Story(
            index=index,
            profile=profile,
            opened_at=opened_at,
            hours=hours,
            rng=rng,
            tickets=tickets,
            earlier=last_of.get(client.id),
            ending=ending,
            load=_RUSH_LOAD if opened_at >= rush else 1.0,
        )
        last_of[client.id] = index
        steps.extend(step for step in story.plan() if step.at <= end)

    steps.sort(key=lambda step: (step.at, step.request, step.seq))
    total = len(steps)
    for done, step in enumerate(steps, start=1):
        clock.now = step.at.astimezone(UTC)
        result = step.command(desk, tickets.get(step.request, ""))
        if step.seq == 0 and isinstance(result, Request):
            tickets[step.request] = result.ticket_code
        if progress is not None:
            progress(done, total)
    clock.now = max(clock.now, end.astimezone(UTC))
    desk.catch_up()  # run_due finds its candidates in the SLA projection
    due = desk.run_due(at=end)
    featured = tickets.get(next((i for i, e in endings.items() if e == "tour"), -1))
    return _summarise(desk, tickets, due, seed=seed, started=start, ended=end, featured=featured)


#: The final business days are a rush, in which the desk answers this many times slower.
_RUSH_DAYS = 5
_RUSH_LOAD = 2.5
# Information and service requests are the bread and butter; reports are rare.
_KIND_WEIGHTS = (18, 9, 4, 16, 8, 10, 9, 3, 2, 14)
_CHANNEL_WEIGHTS = (8, 34, 20, 18, 12, 8)


def _endings(
    rng: random.Random, arrivals: list[datetime], end: datetime, hours: _Hours
) -> dict[int, Ending]:
    """Pin a few stories to an ending, so every state shows up even in a small simulation.

    The rest end wherever their plan and the end of the simulation leave them.
    """
    count = len(arrivals)
    endings: dict[int, Ending] = {}
    if count < len(Status):
        return endings
    # Opened at least eight business days before the end: time enough to reach the ending.
    early = [i for i, at in enumerate(arrivals) if hours.add(at, 8 * 660) < end]
    # The tour leaves the first requests alone: they show one of each kind and channel.
    touring = [i for i in early if i >= len(Kind)]
    if touring:
        endings[touring[len(touring) // 8]] = "tour"
    endings[count - 1] = "new"
    pinned: tuple[Ending, ...] = ("waiting", "completed", "cancelled")
    quota = max(1, count // 100)
    candidates = [i for i in early if i not in endings]
    rng.shuffle(candidates)
    for ending in pinned:
        for _ in range(quota):
            if candidates:
                endings[candidates.pop()] = ending
    return endings


def _summarise(
    desk: ServiceDesk,
    tickets: Mapping[int, str],
    due: Sequence[DueAction],
    *,
    seed: int,
    started: datetime,
    ended: datetime,
    featured: str | None,
) -> DemoSummary:
    views = [desk.get(tickets[i]) for i in sorted(tickets)]
    outcomes = {
        name: dict.fromkeys((state.value for state in ClockState), 0) for name in CLOCK_NAMES
    }
    for view in views:
        for clock in desk.sla(view, at=ended).clocks:
            outcomes[clock.name][clock.state.value] += 1
    adopted = desk.policies()
    actions = Counter(action.action for action in due)
    statuses = Counter(v.status for v in views)
    open_by_team: dict[str, Counter[str]] = {}
    for view in views:
        if view.status in OPEN_STATUSES:
            team = view.team or _TRIAGE
            open_by_team.setdefault(team, Counter())[view.status.value] += 1
    scores = [v.satisfaction for v in views if v.satisfaction is not None]
    ncs = [nc for v in views for nc in v.nonconformities]
    examples: dict[str, str] = {}
    for view in views:
        examples.setdefault(view.status.value, view.ticket_code)
    return DemoSummary(
        seed=seed,
        requests=len(views),
        events=sum(v.version for v in views),
        started_at=started,
        ended_at=ended,
        by_status={s.value: statuses[s] for s in Status},
        by_kind=_count(views, lambda v: v.kind.value, [k.value for k in Kind]),
        by_stage=_count(views, lambda v: v.stage.value, [s.value for s in Stage]),
        by_channel=_count(views, lambda v: v.channel.value, [c.value for c in Channel]),
        by_tier=_count(views, lambda v: v.customer.tier.value, [t.value for t in Tier]),
        open_by_team={
            team: dict(sorted(open_by_team[team].items()))
            for team in sorted(open_by_team, key=lambda t: (t != _TRIAGE, t))
        },
        mean_satisfaction=round(sum(scores) / len(scores), 2) if scores else None,
        rated=len(scores),
        nonconformities_open=sum(1 for nc in ncs if not nc.is_corrected),
        nonconformities_corrected=sum(1 for nc in ncs if nc.is_corrected),
        transfers=sum(v.transfer_count for v in views),
        reopenings=sum(v.reopen_count for v in views),
        cancellations=statuses[Status.CANCELLED],
        featured=featured,
        examples=examples,
        sla_policy=adopted[-1].label
        if adopted
        else f"{DEFAULT_POLICY.name} v{DEFAULT_POLICY.version}",
        sla=outcomes,
        breached=len(desk.breaches(at=ended)),
        at_risk=len(desk.at_risk(at=ended)),
        deemed_acceptances=actions["deemed_acceptance"],
        follow_ups_due=actions["follow_up_due"],
    )


def _count(
    views: Sequence[Request], key: Callable[[Request], str], order: Sequence[str]
) -> dict[str, int]:
    counts = Counter(key(v) for v in views)
    return {name: counts[name] for name in order}
