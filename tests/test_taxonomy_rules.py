"""The taxonomy's rules for hard cases, checked on the shipped default model.

Every note here was written for these tests (none is taken from
data/corpus.jsonl), in the registers the model meets: CRM closed-lost
fields, e-mails, call transcripts and win/loss interview notes.  Each case
states the label the rule gives (``primary``), labels the note must carry
(``present``) and labels the rule says it must not carry (``absent``: the
reading a keyword would suggest but the rule rejects), following the
taxonomy's "Rules for hard cases".
"""

from __future__ import annotations

import pytest

from objections.labels import LABELS


def case(text, primary, present=(), absent=(), id=None, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(text, primary, tuple(present), tuple(absent), id=id, marks=marks)


# -- The stated reason decides, not the keywords --------------------------------------
KEYWORD = [
    case(
        "Budget isn't the issue — they just don't see why they'd switch",
        "pitch",
        absent=["market"],
        id="budget-not-the-issue",
    ),
    case(
        "Money's there, the CFO signed off on the spend. Problem is the ops team still can't see what it "
        "changes for them day to day.",
        "pitch",
        absent=["market"],
        id="money-is-there",
    ),
    case(
        "They loved how simple the pricing was. Shame the tool can't export to their data warehouse, which "
        "was the whole point.",
        "product_fit",
        absent=["pitch"],
        id="pricing-praised-export-missing",
    ),
    case(
        "We talked a lot about integrations and they were all fine. Deal died because their parent company "
        "put every software purchase on hold after the layoffs.",
        "market",
        absent=["product_fit"],
        id="integrations-fine-spend-on-hold",
    ),
    case(
        "Hi Sam,\n\nThanks for your patience. To be clear, the budget was approved; our directors just "
        "aren't convinced this beats what we do in Excel today.\n\nBest,\nLena",
        "pitch",
        absent=["market"],
        id="email-budget-approved-not-convinced",
    ),
]

# -- "Went with a competitor" is decided by why --------------------------------------
COMPETITOR = [
    case(
        "Went with Northwind. They have offline sync for the field techs and we don't.",
        "product_fit",
        absent=["pitch", "market"],
        id="competitor-offline-sync",
        xfail="the default model adds pitch to a loss explained only by a missing feature",
    ),
    case(
        "Lost to Halcyon - their tool handles multi-currency invoicing out of the box, ours needs a "
        "workaround.",
        "product_fit",
        absent=["pitch", "market"],
        id="competitor-multi-currency",
    ),
    case(
        "Chose Brightline instead. Honestly their AE just got our problem faster and told a better story "
        "to the VP.",
        "pitch",
        absent=["product_fit", "market"],
        id="competitor-better-story",
    ),
    case(
        "They picked the other vendor; features were a wash but their team built a business case our "
        "champion could take upstairs, we never did.",
        "pitch",
        absent=["product_fit", "market"],
        id="competitor-business-case",
    ),
    case(
        "Going with the HubSpot add-on since it's now included free in the suite they already pay for.",
        "market",
        absent=["product_fit", "pitch"],
        id="competitor-free-in-suite",
    ),
    case(
        "Microsoft bundled the same capability into their E5 licence this year, so there's nothing left "
        "to buy.",
        "market",
        absent=["product_fit", "pitch"],
        id="competitor-e5-bundle",
    ),
    case(
        "Hi Jordan, we've decided to go with Fieldly. Their team sat with our dispatchers and showed "
        "exactly how it would work for us; we never got that from your side.",
        "pitch",
        absent=["product_fit", "market"],
        id="email-competitor-understood-us",
    ),
]

# -- Negation flips meaning -------------------------------------------------------------
NEGATION = [
    case(
        "Integration was not a concern; the team just never saw enough value to change how they work.",
        "pitch",
        absent=["product_fit"],
        id="integration-not-a-concern",
    ),
    case(
        "Security review went smoothly, no concerns about SSO or data residency. They went quiet after the "
        "CFO left and the new one froze discretionary spend.",
        "market",
        absent=["product_fit"],
        id="no-concerns-about-sso",
    ),
    case(
        "No issues with the API or the Salesforce connector. They simply aren't convinced it's worth $60k "
        "a year.",
        "pitch",
        absent=["product_fit"],
        id="no-issues-with-api",
    ),
    case(
        "Didn't have any problem with price. What they need is a HIPAA BAA and we can't sign one.",
        "product_fit",
        absent=["pitch"],
        id="no-problem-with-price",
    ),
    case(
        "Interviewer: Was the mobile app a factor?\n"
        "Buyer: Not at all, the mobile app was fine. Our new owners moved every team onto one vendor after "
        "the buyout.",
        "market",
        absent=["product_fit"],
        id="winloss-mobile-app-fine",
    ),
]

# -- Price: level vs budget removed vs pricing model -----------------------------------
PRICE = [
    case(
        "Too expensive for what they'd get, in their words. Nothing changed on their side, they just "
        "won't pay $40k for it.",
        "pitch",
        absent=["market"],
        id="price-level-40k",
    ),
    case(
        "They said the quote was steep and they couldn't justify the cost to the team.",
        "pitch",
        absent=["market"],
        id="price-level-cant-justify",
    ),
    case(
        "Their budget got pulled when the board cut opex 20% after a bad quarter.",
        "market",
        absent=["pitch"],
        id="budget-cut-by-board",
    ),
    case(
        "Whole software budget was frozen after the acquisition closed; nothing new until next fiscal year.",
        "market",
        absent=["pitch"],
        id="budget-frozen-acquisition",
    ),
    case(
        "Per-seat pricing is a non-starter, they have 300 seasonal pickers who log in two months a year.",
        "product_fit",
        absent=["pitch"],
        id="pricing-model-per-seat",
    ),
    case(
        "They need usage-based billing; a flat annual platform fee doesn't work for how their franchisees "
        "buy.",
        "product_fit",
        absent=["pitch"],
        id="pricing-model-flat-fee",
    ),
    case(
        "Win/loss interview: the price itself was fine, but per-user licensing can't work for 2,000 "
        "part-time volunteers.",
        "product_fit",
        absent=["pitch"],
        id="winloss-per-user-volunteers",
    ),
]

# -- Timing: "not now" with and without an outside cause --------------------------------
TIMING = [
    case(
        "Not now. Maybe revisit next year.",
        "pitch",
        absent=["market"],
        id="not-now-no-reason",
    ),
    case(
        "Said the timing isn't right and to circle back in a few months.",
        "pitch",
        absent=["market"],
        id="timing-not-right",
    ),
    case(
        "Not now — they're in a hiring freeze until the merger closes.",
        "market",
        absent=["pitch"],
        id="not-now-hiring-freeze",
    ),
    case(
        "Timing's bad: new tariffs hit their import costs and every project is on ice until Q3.",
        "market",
        absent=["pitch"],
        id="timing-tariffs",
    ),
    case(
        "Hi Priya, we'll have to park this until next quarter. The company just announced a restructuring "
        "and all purchases are frozen.\n\nSent from my iPhone",
        "market",
        absent=["pitch"],
        id="email-park-restructuring",
    ),
]

# -- Several reasons: every one is a label, never with none ------------------------------
SEVERAL = [
    case(
        "Two problems: no Spanish UI for their agents, and their budget got frozen after the funding round "
        "fell through.",
        ("product_fit", "market"),
        present=["product_fit", "market"],
        id="spanish-ui-and-funding",
        xfail="the default model lists only market: product_fit scores 0.47, under its threshold",
    ),
    case(
        "Their new CEO paused all vendor onboarding, and frankly the champion never bought into the ROI "
        "either.",
        ("market", "pitch"),
        present=["market", "pitch"],
        id="new-ceo-and-roi",
    ),
    case(
        "We can't connect to SAP, and leadership never saw why this was worth the effort anyway.",
        ("product_fit", "pitch"),
        present=["product_fit", "pitch"],
        id="sap-and-why",
    ),
]

# -- No objection, even when the words sound negative ------------------------------------
NONE = [
    case(
        "Ugh, awful traffic so the call started 20 min late. Demo went well, they want pricing for 40 seats.",
        "none",
        absent=["pitch", "product_fit", "market"],
        id="late-call-good-demo",
    ),
    case(
        "Out of office until Monday with limited access to email. For urgent matters contact my colleague.",
        "none",
        absent=["pitch", "product_fit", "market"],
        id="out-of-office",
    ),
    case(
        "Bad news: our office flooded last night, so can we push the kickoff to Thursday? Still keen to "
        "sign.",
        "none",
        absent=["pitch", "product_fit", "market"],
        id="office-flooded",
    ),
    case(
        "No problems on our side — signed contract attached, see you at onboarding.",
        "none",
        absent=["pitch", "product_fit", "market"],
        id="no-problems-signed",
    ),
    case(
        "Rep: Any concerns before we send the order form?\n"
        "Prospect: None at all, legal already approved it. Send it over.",
        "none",
        absent=["pitch", "product_fit", "market"],
        id="transcript-no-concerns-send-order",
    ),
]

# -- The buyer's words decide; a rep's guess only when it is all there is ----------------
REP_VS_BUYER = [
    case(
        "Rep: I think they were scared off by the price, honestly.\n"
        "Prospect: Price is fine. Our problem is the tool doesn't support SAML and IT won't allow it.",
        "product_fit",
        absent=["pitch"],
        id="rep-guesses-price-buyer-says-saml",
    ),
    case(
        "Rep: My guess is the competitor beat us on features.\n"
        "Prospect: Not really. Our parent company just froze all new vendor spend this quarter.",
        "market",
        absent=["product_fit"],
        id="rep-guesses-features-buyer-says-freeze",
    ),
    case(
        "SPEAKER_00: Maybe the integration piece worried you?\n"
        "SPEAKER_01: No, integration is fine. We just don't see enough value to switch from our "
        "spreadsheets.",
        "pitch",
        absent=["product_fit"],
        id="rep-asks-integration-buyer-says-value",
    ),
    case(
        "Rep notes: I think they were scared off by the price, never got a straight answer from them.",
        "pitch",
        id="rep-speculation-only",
    ),
]


@pytest.fixture(scope="module")
def results(default_model):
    """Every case tagged in one call."""
    groups = KEYWORD + COMPETITOR + NEGATION + PRICE + TIMING + SEVERAL + NONE + REP_VS_BUYER
    texts = [p.values[0] for p in groups]
    return dict(zip(texts, default_model.tag(texts)))


def check(result, primary, present, absent):
    allowed = primary if isinstance(primary, tuple) else (primary,)
    assert result["primary"] in allowed, result
    for label in present:
        assert label in result["labels"], result
    for label in absent:
        assert label not in result["labels"], result
    # Whatever the rule, a result is well formed.
    assert result["labels"][0] == result["primary"]
    assert set(result["labels"]) <= set(LABELS)
    assert not ("none" in result["labels"] and len(result["labels"]) > 1)


@pytest.mark.parametrize("text, primary, present, absent", KEYWORD)
def test_stated_reason_decides_not_keywords(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


@pytest.mark.parametrize("text, primary, present, absent", COMPETITOR)
def test_competitor_win_is_decided_by_why(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


@pytest.mark.parametrize("text, primary, present, absent", NEGATION)
def test_negation_flips_meaning(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


@pytest.mark.parametrize("text, primary, present, absent", PRICE)
def test_price_level_budget_and_pricing_model(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


@pytest.mark.parametrize("text, primary, present, absent", TIMING)
def test_timing_with_and_without_outside_cause(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


@pytest.mark.parametrize("text, primary, present, absent", SEVERAL)
def test_several_reasons_all_labelled(results, text, primary, present, absent):
    check(results[text], primary, present, absent)
    assert "none" not in results[text]["labels"]


@pytest.mark.parametrize("text, primary, present, absent", NONE)
def test_negative_sounding_notes_without_objection_are_none(results, text, primary, present, absent):
    check(results[text], primary, present, absent)
    assert results[text]["labels"] == ["none"]
    assert results[text]["evidence"] == ""


@pytest.mark.parametrize("text, primary, present, absent", REP_VS_BUYER)
def test_buyer_words_decide_over_rep_speculation(results, text, primary, present, absent):
    check(results[text], primary, present, absent)


def test_evidence_comes_from_the_buyer_turn(results):
    text = REP_VS_BUYER[1].values[0]
    evidence = results[text]["evidence"]
    assert "froze" in evidence
    assert "guess" not in evidence
