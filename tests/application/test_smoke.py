from servflow import ServiceDesk, Status


def test_a_request_goes_from_opening_to_acceptance(desk: ServiceDesk) -> None:
    request = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The router drops the line every evening",
        actor="agent:ana",
    )
    desk.classify(request, priority="high", actor="agent:ana")
    desk.assign(request, team="network", agent="ana", actor="agent:ana")
    desk.complete(request, outcome="resolved", resolution="Firmware updated", actor="agent:ana")
    closed = desk.accept(request, satisfaction=4, actor="customer:acme")
    assert closed.status is Status.CLOSED
    assert closed.ticket_code == "SR-000001"
    assert desk.get("SR-000001").version == 5
