"""The cashier panel's enrol form, in a real browser against the real agent and Engage simulator, in English and
Swedish: offered after "no member found" and from its button, every question a yes/no pair with nothing
pre-selected, the new member on screen at once, and nothing the shopper typed left for the next customer."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator
from posplugin.vendors.engage.simulator.contact_creation import contacts_with
from tests.conftest import RunningAgent, wait_for
from tests.ui.panel_helpers import SMALL, open_panel, scan, shot

pytestmark = pytest.mark.browser
EMAIL = "nora.ny@example.se"
ASA_CARD = "2400000010014"


def search(page: Any, value: str) -> None:
    page.locator("#open-search").click()
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def question(page: Any, consent_id: str) -> Any:
    return page.locator(f'fieldset.question[data-question-id="{consent_id}"]')


def test_enrol_after_no_member_found_with_explicit_answers(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running, SMALL)
    search(page, EMAIL)
    expect(page.locator("#message")).to_have_text("No member found with this phone number or e-mail.")
    offer = page.locator("#enrol-offer")
    expect(offer).to_have_text("Enrol as a new member")
    offer.click()
    form = page.locator("#enrol-form")
    expect(form).to_be_visible()
    expect(page.locator("#enrol-id")).to_have_value(EMAIL)  # what was searched for, not typed twice
    expect(page.locator("#enrol-name")).to_be_focused()
    expect(question(page, "acceptsEmail")).to_be_visible()
    expect(question(page, "acceptsEmail").locator("legend")).to_have_text(
        "Would you like to receive offers and news from us by e-mail?"
    )
    expect(question(page, "acceptsSms")).to_be_hidden()  # an e-mail enrolment is not asked about SMS
    expect(form.locator("input[type=radio]:checked")).to_have_count(0)  # never pre-ticked
    page.keyboard.type("Nora")
    page.locator("#enrol-go").click()
    expect(page.locator("#enrol-message")).to_have_text("The shopper must answer yes or no to every question.")
    expect(question(page, "acceptsEmail")).to_have_class("question unanswered")
    assert sim.stats["contact_creates"] == 0
    shot(page, "panel-enrol-unanswered")
    question(page, "acceptsEmail").get_by_text("Yes").click()
    page.locator("#enrol-go").click()
    expect(page.locator("#member-name")).to_have_text("Nora")
    expect(page.locator("#message")).to_have_text("Welcome as a member, Nora!")
    expect(form).to_be_hidden()
    expect(page.locator("#points-balance")).to_have_text("0")
    expect(page.locator("#scan")).to_be_focused()  # back to scanning for the sale
    (contact,) = contacts_with(sim.state, email=EMAIL)
    assert contact.preferences == {"acceptsEmail": True} and contact.first_name == "Nora"
    expect(page.locator("#member-number")).to_have_text(f"Member no {contact.member_number}")
    shot(page, "panel-enrolled")


def test_enrol_from_the_button_with_a_mobile_number(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    open_panel(page, running)
    page.locator("#open-enrol").click()
    expect(page.locator("#enrol-id")).to_be_focused()
    page.keyboard.type("+46 70-999 00 11")
    expect(question(page, "acceptsSms")).to_be_visible()
    expect(question(page, "acceptsEmail")).to_be_hidden()
    page.keyboard.press("Enter")  # moves on to the name: Enter never submits (a wedge scanner's Enter)
    expect(page.locator("#enrol-name")).to_be_focused()
    assert sim.stats["contact_creates"] == 0
    question(page, "acceptsSms").get_by_text("No").click()
    page.locator("#enrol-go").click()
    expect(page.locator("#message")).to_have_text("New member enrolled.")
    (contact,) = contacts_with(sim.state, mobile_phone="+46709990011")
    assert contact.preferences == {"acceptsSms": False}
    expect(page.locator("#member")).to_be_visible()


def test_an_e_mail_that_is_a_member_shows_that_member(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    open_panel(page, running)
    page.locator("#open-enrol").click()
    page.keyboard.type("asa.oberg@example.se")
    question(page, "acceptsEmail").get_by_text("No").click()
    page.locator("#enrol-go").click()
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#message")).to_have_text(
        "The shopper is already a member and is shown now. Consents were not changed."
    )
    assert sim.stats["contact_creates"] == 0


def test_offline_the_form_says_so_and_keeps_what_was_typed(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running)
    page.locator("#open-enrol").click()
    page.keyboard.type(EMAIL)
    question(page, "acceptsEmail").get_by_text("Yes").click()
    sim.set_offline(True)
    page.locator("#enrol-go").click()
    expect(page.locator("#enrol-message")).to_contain_text("Offline — enrolling a member needs a connection")
    expect(page.locator("#enrol-id")).to_have_value(EMAIL)
    expect(page.locator("#enrol-go")).to_be_enabled()
    assert contacts_with(sim.state, email=EMAIL) == []


def test_nothing_typed_stays_for_the_next_customer(page: Any, running: RunningAgent) -> None:
    open_panel(page, running)
    page.locator("#open-enrol").click()
    page.keyboard.type(EMAIL)
    page.locator("#enrol-name").fill("Nora")
    question(page, "acceptsEmail").get_by_text("Yes").click()
    page.locator("#enrol-questions").click(position={"x": 2, "y": 2})  # focus leaves the text fields
    scan(page, ASA_CARD)  # the shopper found their card after all
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#enrol-form")).to_be_hidden()
    page.locator("#open-enrol").click()
    expect(page.locator("#enrol-id")).to_have_value("")
    expect(page.locator("#enrol-name")).to_have_value("")
    expect(page.locator("#enrol-form input[type=radio]:checked")).to_have_count(0)
    expect(page.locator("#member")).to_be_hidden()  # opening the form put the last member away


def test_the_enrol_form_in_swedish(page: Any, agent_factory: Any, sim: EngageSimulator) -> None:
    running: RunningAgent = agent_factory(agent={"language": "sv"})
    open_panel(page, running, SMALL)
    button = page.locator("#open-enrol")
    expect(button).to_have_text("Bli medlem")
    button.click()
    expect(page.locator("#enrol-title")).to_have_text("Ny medlem")
    expect(page.locator("label[for=enrol-id]")).to_have_text("E-postadress eller mobilnummer")
    page.keyboard.type(EMAIL)
    box = question(page, "acceptsEmail")
    expect(box.locator("legend")).to_have_text("Vill du få erbjudanden och nyheter från oss via e-post?")
    expect(box.locator("label.choice")).to_have_text(["Ja", "Nej"])
    page.locator("#enrol-name").fill("Nora")
    page.locator("#enrol-go").click()
    expect(page.locator("#enrol-message")).to_have_text("Kunden måste svara ja eller nej på varje fråga.")
    box.get_by_text("Nej").click()
    page.locator("#enrol-go").click()
    expect(page.locator("#message")).to_have_text("Välkommen som medlem, Nora!")
    expect(page.locator("#member-name")).to_have_text("Nora")
    wait_for(lambda: len(contacts_with(sim.state, email=EMAIL)) == 1)
    assert contacts_with(sim.state, email=EMAIL)[0].preferences == {"acceptsEmail": False}
    shot(page, "panel-enrol-sv")


def test_no_enrol_button_when_enrolment_is_off(page: Any, agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(enrolment={"enabled": False})
    open_panel(page, running)
    search(page, EMAIL)
    expect(page.locator("#message")).to_have_text("No member found with this phone number or e-mail.")
    expect(page.locator("#enrol-offer")).to_be_hidden()
    expect(page.locator("#open-enrol")).to_be_hidden()
