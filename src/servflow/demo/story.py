"""One request's story: what happens to it and when, planned before anything runs.

A story opens a request, then (unless it is pinned to another ending) goes through triage,
assignment, STAR contact, a wait on the customer, actions, a transfer, completion and the
customer's answer, drawing each choice and each delay from the simulation's generator. Delays
are business minutes on the desk's hours (:class:`~servflow.demo.hours.DeskHours`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from servflow import (
    Channel,
    Customer,
    Kind,
    NonConformity,
    Outcome,
    Priority,
    Request,
    ServiceDesk,
    Stage,
    Tier,
)
from servflow.demo.catalogue import (
    AUDITORS,
    COMMENTS,
    FIXES,
    NONCONFORMITIES,
    PACE,
    PARTS,
    PROGRESS,
    TEAMS,
    VISIT,
    WITHDRAWALS,
    Finding,
)
from servflow.demo.hours import DeskHours
from servflow.demo.needs import NEEDS, Act, Case, Need

__all__ = ["Command", "Ending", "Profile", "Step", "Story"]

#: The state a story is pinned to end in, so that every state shows up in a small simulation.
Ending = Literal["new", "waiting", "completed", "cancelled", "tour"]

#: What a step does to the desk, given the request's ticket code (empty until it is open).
Command = Callable[[ServiceDesk, str], Request | NonConformity]


@dataclass(frozen=True, slots=True)
class Step:
    """One planned command of one request, at its business-hour instant."""

    at: datetime
    request: int
    seq: int
    command: Command


@dataclass(frozen=True, slots=True)
class Profile:
    """Who asks for what, how, and the words that fill the case's texts."""

    kind: Kind
    stage: Stage
    channel: Channel
    customer: Customer
    case: Case
    words: Mapping[str, str]


@dataclass
class Story:
    """The planned life of one request: steps with their business-hour timestamps.

    :meth:`plan` draws every choice from ``rng`` in a fixed order, so the same generator state
    plans the same story; the steps run later, merged with every other story's in time order.
    """

    index: int
    profile: Profile
    opened_at: datetime
    hours: DeskHours
    rng: random.Random
    tickets: dict[int, str]
    #: An earlier request of the same customer, which this one may duplicate.
    earlier: int | None
    ending: Ending | None = None
    steps: list[Step] = field(default_factory=list)
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
        self.team = NEEDS[self.profile.kind].team
        self.agent = self.rng.choice(TEAMS[self.team])

    # -- helpers -------------------------------------------------------------------------

    @property
    def _need(self) -> Need:
        return NEEDS[self.profile.kind]

    @property
    def _customer(self) -> Customer:
        return self.profile.customer

    def _text(self, template: str) -> str:
        return template.format_map(dict(self.profile.words))

    def _later(self, low: int, high: int) -> None:
        """Move this story on by a random number of business minutes."""
        self.at = self.hours.add(self.at, max(1, self.rng.randint(low, high)))

    def _busy(self, low: int, high: int) -> None:
        """Move on by the time the desk's own work takes: longer when it is behind."""
        self._later(*self._loaded((low, high)))

    def _step(self, command: Command) -> None:
        self.steps.append(Step(self.at, self.index, len(self.steps), command))

    def _customer_actor(self) -> str:
        return f"customer:{self._customer.id}"

    def _agent_actor(self) -> str:
        return f"agent:{self.agent}"

    def _lead(self) -> str:
        return f"agent:{TEAMS[self.team][0]}"

    # -- the lifecycle -------------------------------------------------------------------

    def plan(self) -> list[Step]:
        """Plan the whole story (it may run past the end of the simulation)."""
        self._open()
        if self.ending == "tour":
            self._tour()
        elif self.ending != "new" and not self._duplicate():
            self._handle()
        return self.steps

    def _duplicate(self) -> bool:
        """Sometimes the customer already asked: the request is cancelled as a duplicate."""
        if self.ending is not None or self.earlier is None or self.rng.random() >= 0.04:  # noqa: PLR2004
            return False
        self._later(10, 90)
        self._cancel_duplicate()
        return True

    def _handle(self) -> None:
        """Triage, STAR contact, resolution and the customer's answer."""
        # Triage sees how urgent a request is before it records so: urgent work goes first.
        self.priority = self._choose_priority()
        triage, contact = PACE[self.priority]
        self._later(*self._pace(triage))
        self._classify()
        self._later(5, 45)
        unstaffed = self.rng.random() < 0.15  # noqa: PLR2004
        self._assign(with_agent=not unstaffed)
        if unstaffed:
            self._later(20, 180)
            self._assign(with_agent=True)
        if self.ending == "cancelled" or (self.ending is None and self.rng.random() < 0.03):  # noqa: PLR2004
            self._later(60, 900)
            self._withdraw()
            return
        low, high = self._pace(contact)
        if self.rng.random() < 0.06 * self.load:
            low, high = high, 3 * high
        self._later(low, high)
        self._probe()
        # A pinned "completed" story takes the short road, so that it gets there in time.
        direct = self.ending == "completed"
        if self.ending == "waiting" or (not direct and self.rng.random() < self._need.p_wait):
            self._later(5, 60)
            self._wait()
            if not self._answered():
                return
        self._work()
        if not direct and self._need.transfer_to and self.rng.random() < self._need.p_transfer:
            self._transfer(self._need.transfer_to)
        if self.rng.random() < 0.25:  # noqa: PLR2004
            self._later(60, 600)
            self._progress()
        self._busy(10, 240)
        self._complete()
        if self.ending != "completed":
            self._react()

    def _answered(self) -> bool:
        """Whether the customer answers the question the request waits on."""
        if self.ending == "waiting":
            return False
        if self.rng.random() < 0.08:  # noqa: PLR2004 - some customers never answer
            if self.rng.random() < 0.5:  # noqa: PLR2004
                self._later(2400, 3300)
                self._cancel_unanswered()
            return False
        self._later(60, 1800)
        self._respond()
        return True

    def _open(self) -> None:
        profile = self.profile
        if profile.channel in {Channel.WEB, Channel.MOBILE_APP}:
            actor = self._customer_actor()
        elif profile.channel is Channel.EMAIL:
            actor = "integration:mailbox"
        else:
            actor = f"agent:{self.rng.choice(TEAMS['frontline'])}"
        symptom = self._text(profile.case.symptom)
        synthesis = self._text(profile.case.synthesis)
        customer = self._customer

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

        self._step(run)

    def _choose_priority(self) -> Priority:
        """The priority triage will give: the need's usual mix, often raised for VIPs."""
        priority = self.rng.choices(list(Priority), weights=self._need.priorities)[0]
        return _raise(priority, self._customer.tier, self.rng)

    def _pace(self, minutes: tuple[int, int]) -> tuple[int, int]:
        """A delay range in business minutes; VIP customers wait about half as long."""
        low, high = minutes
        return (low, max(low, high // 2)) if self._customer.tier is Tier.VIP else (low, high)

    def _loaded(self, minutes: tuple[int, int]) -> tuple[int, int]:
        """A delay range stretched by the desk's load."""
        return (round(minutes[0] * self.load), round(minutes[1] * self.load))

    def _book_visit(self) -> None:
        """Tell the customer a visit is booked, then wait for it: the most urgent go first."""
        self._later(20, 120)
        self._progress(PROGRESS[0])
        self._later(*self._loaded(VISIT[self.priority or Priority.NORMAL]))

    def _classify(self) -> None:
        priority = self.priority or self._choose_priority()
        corrected = {Kind.COMPLAINT: Kind.CLAIM, Kind.CLAIM: Kind.COMPLAINT}.get(self.profile.kind)
        kind = corrected if corrected and self.rng.random() < 0.08 else None  # noqa: PLR2004
        category = self.rng.choice(self._need.categories)
        actor = f"agent:{self.rng.choice(TEAMS['frontline'])}"
        self._step(
            lambda desk, ref: desk.classify(
                ref, priority=priority, kind=kind, category=category, actor=actor
            )
        )

    def _assign(self, *, with_agent: bool, team: str | None = None) -> None:
        if team is not None:
            self.team = team
            self.agent = self.rng.choice(TEAMS[team])
        chosen_team, agent = self.team, self.agent if with_agent else None
        actor = self._lead()
        self._step(lambda desk, ref: desk.assign(ref, team=chosen_team, agent=agent, actor=actor))

    def _probe(self, questions: Sequence[str] | None = None, findings: str | None = None) -> None:
        case = self.profile.case
        asked = tuple(self._text(q) for q in (questions or case.questions))
        found = self._text(findings or case.findings)
        diagnosis = None if findings else self._text(case.diagnosis)
        actor = self._agent_actor()
        self._step(
            lambda desk, ref: desk.probe(
                ref, questions=list(asked), findings=found, diagnosis=diagnosis, actor=actor
            )
        )

    def _act(self, act: Act) -> None:
        text = self._text(act.text)
        effort = self.rng.randint(*act.effort) if act.effort[1] else 0
        cost = f"{self.rng.randint(act.cost // 3, act.cost)}.{self.rng.choice(('00', '50', '90'))}"
        price = cost if act.cost else None
        actor = self._agent_actor()
        self._step(
            lambda desk, ref: desk.act(
                ref, action=text, effort_minutes=effort, cost=price, actor=actor
            )
        )

    def _work(self) -> None:
        """The STAR actions, with a booked visit first where the need calls for one."""
        if self._need.visit:
            self._book_visit()
        for number, act in enumerate(self.profile.case.acts):
            self._busy(20, 300)
            self._act(act)
            if number == 0 and self.rng.random() < PARTS.get(self.profile.kind, 0.0):
                # The clock keeps running: the wait is the company's, not the customer's.
                self._later(10, 60)
                self._progress(PROGRESS[1])
                self._busy(900, 2700)

    def _wait(self) -> None:
        reason = self._text(self.profile.case.wait_reason)
        actor = self._agent_actor()
        self.waited = True
        self._step(lambda desk, ref: desk.wait_on_customer(ref, reason=reason, actor=actor))

    def _respond(self) -> None:
        note = self._text(self.profile.case.reply)
        actor = self._customer_actor()
        self._step(lambda desk, ref: desk.customer_responded(ref, note=note, actor=actor))

    def _progress(self, template: str | None = None) -> None:
        message = self._text(template or self.rng.choice(PROGRESS))
        actor = self._agent_actor()
        self._step(lambda desk, ref: desk.report_progress(ref, message=message, actor=actor))

    def _transfer(self, team: str) -> None:
        note = self._need.transfer_note
        actor = self._agent_actor()
        self._later(10, 120)
        self._step(
            lambda desk, ref: desk.complete(
                ref, outcome=Outcome.TRANSFERRED, resolution=note, to_team=team, actor=actor
            )
        )
        self.transferred = True
        self._busy(60, 1200)
        self._assign(with_agent=True, team=team)
        self._busy(30, 480)
        self._probe(
            questions=("Has anything changed since your first contact?",),
            findings="Picked up from the previous team's notes: "
            + self._text(self.profile.case.diagnosis),
        )
        if team == "field-service":
            self._book_visit()
        else:
            self._busy(60, 900)
        self._act(self._need.transfer_act)

    def _fix(self, act: Act) -> None:
        """Work again after a reopening, and complete again."""
        self._act(act)
        self._later(10, 180)
        self._complete(
            outcome=Outcome.RESOLVED, resolution=f"Solved after the reopening. {act.text}"
        )

    def _complete(self, *, outcome: Outcome | None = None, resolution: str | None = None) -> None:
        if outcome is None:
            follow = self.rng.random() < self._need.p_follow_up
            outcome = Outcome.FOLLOW_UP if follow else Outcome.RESOLVED
        follow_up_at = None
        resolution = self._text(resolution or self.profile.case.resolution)
        if outcome is Outcome.FOLLOW_UP:
            day = self.at + timedelta(days=self.rng.randint(3, 10))
            follow_up_at = self.hours.next_open(day.replace(hour=10, minute=0, second=0))
            resolution += " We will call to check in a few days."
        actor = self._agent_actor()
        self._step(
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

    def _react(self) -> None:
        """The customer's answer to the completion: accept, reopen or (for now) silence."""
        self._later(30, 1320)
        chance = self.rng.random()
        if chance < 0.06:  # noqa: PLR2004 - silent: still awaiting acceptance
            return
        if chance < 0.16:  # noqa: PLR2004
            self._reopen()
            self._later(60, 1200)
            self._fix(self.rng.choice(FIXES))
            self._later(120, 2400)
            if self.rng.random() < 0.1:  # noqa: PLR2004
                return
        self._accept()
        self._audit()

    def _reopen(self) -> None:
        reason = self._text(self.profile.case.reopen_reason)
        actor = self._customer_actor()
        self._step(lambda desk, ref: desk.reopen(ref, reason=reason, actor=actor))
        self.reopened = True

    def _accept(self, score: int | None = None) -> None:
        if score is None:
            mood = 4.4 + self.rng.gauss(0, 0.7)
            mood -= 1.3 * self.reopened + 0.5 * self.transferred + 0.3 * self.waited
            mood -= 0.8 * (self.nonconformities > 0)
            score = min(5, max(1, round(mood)))
        comment = self.rng.choice(COMMENTS[score]) if self.rng.random() < 0.6 else None  # noqa: PLR2004
        actor = self._customer_actor()
        self._step(
            lambda desk, ref: desk.accept(ref, satisfaction=score, comment=comment, actor=actor)
        )

    def _audit(self, finding: Finding | None = None, *, corrected: bool | None = None) -> None:
        """Maybe an auditor documents a non-conformity, and maybe a team lead corrects it."""
        chance = 0.06 + 0.1 * self.reopened + 0.05 * self.transferred
        if finding is None and self.rng.random() >= chance:
            return
        finding = finding or self.rng.choice(NONCONFORMITIES)
        self._later(240, 4800)
        self.nonconformities += 1
        number = self.nonconformities
        auditor = self.rng.choice(AUDITORS)
        self._step(
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
            self._later(240, 2400)
            lead = self._lead()
            self._step(
                lambda desk, ref: desk.correct_nonconformity(
                    ref, number, correction=finding.correction, actor=lead
                )
            )

    def _cancel(self, reason: str, actor: str) -> None:
        self._step(lambda desk, ref: desk.cancel(ref, reason=reason, actor=actor))

    def _cancel_duplicate(self) -> None:
        earlier, tickets = self.earlier, self.tickets
        channel = self.profile.channel.value.replace("_", " ")
        actor = f"agent:{self.rng.choice(TEAMS['frontline'])}"

        def run(desk: ServiceDesk, ref: str) -> Request:
            original = tickets[earlier] if earlier is not None else "an earlier request"
            reason = f"Duplicate of {original}: the customer reported it again by {channel}."
            return desk.cancel(ref, reason=reason, actor=actor)

        self._step(run)

    def _withdraw(self) -> None:
        self._cancel(self._text(self.rng.choice(WITHDRAWALS)), self._customer_actor())

    def _cancel_unanswered(self) -> None:
        reason = "No answer from the customer after three reminders; closed as withdrawn."
        self._cancel(reason, self._agent_actor())

    def _tour(self) -> None:
        """Most of the lifecycle in one request: the demo prints its history."""
        self._later(10, 30)
        self._classify()
        self._later(5, 20)
        self._assign(with_agent=True)
        self._later(20, 60)
        self._probe()
        self._later(5, 15)
        self._wait()
        self._later(120, 480)
        self._respond()
        self._later(30, 120)
        self._act(self.profile.case.acts[0])
        self._transfer("field-service")
        self._later(60, 240)
        self._complete(outcome=Outcome.RESOLVED)
        self._later(600, 1200)
        self._reopen()
        self._later(60, 240)
        self._fix(FIXES[0])
        self._later(240, 900)
        self._accept(score=3)
        self._audit(NONCONFORMITIES[1], corrected=True)


def _raise(priority: Priority, tier: Tier, rng: random.Random) -> Priority:
    """VIP customers often get one level more urgency (source 004: differentiated service)."""
    if tier is Tier.VIP and rng.random() < 0.5:  # noqa: PLR2004
        order = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
        return order[min(order.index(priority) + 1, len(order) - 1)]
    return priority
