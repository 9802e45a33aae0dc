"""The spaCy components on the kinds of text sales teams paste in."""

from __future__ import annotations

import pytest

from objections.preprocess import COMPONENTS, build_nlp, find_turns, get_nlp


@pytest.fixture(scope="module")
def nlp():
    return get_nlp()


def kept(doc):
    """The writer's own words: the text of every token not flagged as noise."""
    return "".join(t.text_with_ws for t in doc if not t._.is_noise)


def noise_words(doc):
    return [t.text for t in doc if t._.is_noise and not t.is_space]


def spoken_by(doc, role):
    return " ".join(t.text for t in doc if t._.speaker == role and not t._.is_noise and not t.is_space)


def negation_of(doc, word):
    (token,) = [t for t in doc if t.text == word]
    return token._.negation


# -- the pipeline ------------------------------------------------------------


def test_get_nlp_builds_the_pipeline_once_per_process():
    first = get_nlp()
    assert get_nlp() is first
    names = first.pipe_names
    assert [n for n in names if n in COMPONENTS] == list(COMPONENTS)
    # The classifier asks for its pipeline this way; every fit and predict
    # must reuse one Language rather than build a new one.
    from objections import ObjectionClassifier

    clf = ObjectionClassifier()
    built = get_nlp(clf.spacy_model, tuple(clf.disable))
    clf.process(["warm up"])
    assert get_nlp(clf.spacy_model, tuple(clf.disable)) is built


def test_get_nlp_same_settings_spelled_differently_share_one_pipeline():
    first = get_nlp()
    assert get_nlp(None, ()) is first
    assert get_nlp(disable=()) is first


def test_build_nlp_rejects_an_unknown_component():
    with pytest.raises(ValueError, match="objections_typo"):
        build_nlp(disable=("objections_typo",))


@pytest.mark.parametrize(
    "text",
    [
        "Hi Dana,\n\nWe went with another vendor.\n\nBest,\nSam\n\nOn Tue, Mar 3, 2026 at 10:14 AM "
        "Dana <dana@vendor.io> wrote:\n> Any update?",
        "<p>Our CFO froze&nbsp;all new spend.</p>",
        "[00:12:31] Maria (Acme): We already have something.\n[00:12:40] Tom: Would a pilot help?",
        "  leading spaces\n\n\ttabs and\r\nwindows line ends  ",
        "",
    ],
)
def test_noise_is_flagged_never_removed(nlp, text):
    doc = nlp(text)
    assert doc.text == text
    assert len(doc._.obj_noise) == len(doc._.obj_speaker) == len(doc._.obj_negation) == len(doc)
    assert len(doc._.obj_norm) == len(doc)


# -- noise: quoted replies, headers, signatures, disclaimers, markup ----------


def test_quoted_reply_after_on_wrote_is_noise(nlp):
    text = (
        "Thanks for the follow-up. We decided to hold off until the new fiscal year.\n\n"
        "On Tue, Mar 3, 2026 at 10:14 AM Dana Ruiz <dana@vendor.io> wrote:\n"
        "> Hi Sam, any update on the proposal?\n"
        "> Our platform can integrate with NetSuite."
    )
    doc = nlp(text)
    assert kept(doc).strip() == "Thanks for the follow-up. We decided to hold off until the new fiscal year."
    assert "NetSuite" in noise_words(doc)
    assert "wrote" in noise_words(doc)


def test_on_wrote_header_wrapped_over_two_lines_is_noise(nlp):
    text = (
        "Not a fit for us right now, sorry.\n\n"
        "On Wed, Apr 8, 2026 at 9:02 AM Jordan Lee <jordan.lee@vendor.example.com>\n"
        "wrote:\n"
        "> Following up on the SOC 2 report you asked for."
    )
    doc = nlp(text)
    assert kept(doc).strip() == "Not a fit for us right now, sorry."


def test_quote_lines_inside_a_reply_are_noise_but_the_answer_is_kept(nlp):
    text = "> Is pricing the blocker?\nNo, pricing is fine. We need SAML SSO.\n> Anything else?\nThat's it."
    doc = nlp(text)
    assert "blocker" in noise_words(doc)
    assert "Anything" in noise_words(doc)
    assert "SAML SSO" in kept(doc)
    assert "That's it." in kept(doc)


def test_outlook_reply_header_cuts_the_rest(nlp):
    text = (
        "We are going with another vendor because they support SAML.\n\n"
        "From: Dana Ruiz <dana@vendor.io>\n"
        "Sent: Tuesday, March 3, 2026 10:14 AM\n"
        "To: Sam Lee <sam@acme.com>\n"
        "Subject: RE: Proposal\n\n"
        "Hi Sam, checking in on pricing."
    )
    doc = nlp(text)
    assert kept(doc).strip() == "We are going with another vendor because they support SAML."
    assert "pricing" in noise_words(doc)


@pytest.mark.parametrize(
    "header",
    [
        "---------- Forwarded message ---------\nFrom: Priya Nair <priya@acme.com>\nDate: Mon, Mar 2, 2026\n"
        "Subject: vendor review\nTo: Sam Lee <sam@acme.com>\n\n",
        "Begin forwarded message:\n\nFrom: Li Wei <li@acme.com>\nDate: March 2, 2026\nSubject: renewal\n\n",
    ],
)
def test_forwarded_message_is_noise_and_the_forwarders_note_is_kept(nlp, header):
    text = "FYI see below, pricing is the blocker.\n\n" + header + "Leadership wants a cheaper option."
    doc = nlp(text)
    assert kept(doc).strip() == "FYI see below, pricing is the blocker."
    assert "Leadership" in noise_words(doc)


def test_signature_and_legal_disclaimer_are_noise(nlp):
    text = (
        "No SSO means our security team will not sign off.\n\n"
        "Best regards,\n"
        "Sam Lee\n"
        "Director of IT, Acme Corp\n"
        "+1 415 555 0132\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail and any attachments are intended solely for the "
        "addressee. If you have received this email in error please delete it."
    )
    doc = nlp(text)
    assert kept(doc).strip() == "No SSO means our security team will not sign off."
    for word in ("regards", "Director", "0132", "CONFIDENTIALITY", "addressee"):
        assert word in noise_words(doc)


def test_signature_with_title_line_and_short_disclaimer(nlp):
    text = (
        "Hi Dana,\n\nWe've decided to go with another vendor.\n\nThanks,\nPriya Nair\n"
        "Head of RevOps | Acme\nm: 415 555 0132\n\n"
        "This message may contain confidential information and is intended only for the named recipient."
    )
    doc = nlp(text)
    assert "We've decided to go with another vendor." in kept(doc)
    for word in ("Priya", "RevOps", "confidential", "recipient"):
        assert word in noise_words(doc)


@pytest.mark.parametrize(
    "footer", ["Sent from my iPhone", "Sent from Mail for Windows", "Get Outlook for Android"]
)
def test_mobile_footers_are_noise(nlp, footer):
    doc = nlp(f"We need to pause this for now.\n\n{footer}")
    assert kept(doc).strip() == "We need to pause this for now."


def test_html_tags_and_entities_are_own_tokens_and_noise(nlp):
    doc = nlp("<p>Our CFO froze&nbsp;all new spend.</p><br>Sorry &amp; thanks")
    tokens = [t.text for t in doc]
    for markup in ("<p>", "&nbsp;", "</p>", "<br>", "&amp;"):
        assert markup in tokens
        assert markup in noise_words(doc)
    for word in ("Our", "CFO", "froze", "all", "Sorry", "thanks"):
        assert word in tokens
        assert word not in noise_words(doc)
    words = [term for term, noise in zip(doc._.obj_norm, doc._.obj_noise) if not noise]
    assert not any("<" in term or "&" in term for term in words)


@pytest.mark.parametrize(
    "html, words",
    [
        ('<div class="gmail_quote" style="margin:0">Security team said no.</div>', "Security team said no."),
        ('<p class="MsoNormal">No SSO support, so IT said no.</p>', "No SSO support, so IT said no."),
    ],
)
def test_html_tags_with_attributes_keep_the_first_word(nlp, html, words):
    assert kept(nlp(html)).strip() == words


def test_plain_note_has_no_noise(nlp):
    text = "Closed lost - budget frozen thru Q3 per new CFO. Revisit in October."
    doc = nlp(text)
    assert not any(doc._.obj_noise)


# -- speakers ----------------------------------------------------------------


def test_role_labels_rep_and_prospect(nlp):
    doc = nlp(
        "Rep: Any blockers on your side?\n"
        "Prospect: Honestly our budget got cut after the merger.\n"
        "Rep: Understood, we could offer a discount."
    )
    assert spoken_by(doc, "buyer") == "Honestly our budget got cut after the merger ."
    assert "discount" in spoken_by(doc, "rep")
    assert "blockers" in spoken_by(doc, "rep")
    # The labels themselves are not words of either speaker.
    assert {"Rep", "Prospect"} <= set(noise_words(doc))


def test_q_and_a_labels(nlp):
    doc = nlp("Q: Why did you not move forward?\nA: We didn't see the value for our reps.")
    assert "value" in spoken_by(doc, "buyer")
    assert "forward" in spoken_by(doc, "rep")


def test_numbered_speakers_get_roles_from_what_they_say(nlp):
    doc = nlp(
        "SPEAKER_00: Thanks for taking the time today. Let me walk you through our platform.\n"
        "SPEAKER_01: Sure. We use Salesforce and we need a native sync.\n"
        "SPEAKER_00: Our integration covers that, happy to show you.\n"
        "SPEAKER_01: Our IT team said we can't add another tool this year."
    )
    assert "Salesforce" in spoken_by(doc, "buyer")
    assert "IT team" in spoken_by(doc, "buyer")
    assert "platform" in spoken_by(doc, "rep")
    assert "integration" in spoken_by(doc, "rep")
    assert "SPEAKER_00" in noise_words(doc)


def test_numbered_speakers_roles_do_not_depend_on_order(nlp):
    doc = nlp(
        "SPEAKER_01: Happy to walk you through our pricing.\n"
        "SPEAKER_00: We went with another vendor, our team needs offline mode.\n"
        "SPEAKER_01: Understood, thanks for your time."
    )
    assert "offline" in spoken_by(doc, "buyer")
    assert "pricing" in spoken_by(doc, "rep")


def test_timestamped_name_with_company_is_the_buyer(nlp):
    doc = nlp(
        "[00:12:31] Maria (Acme): We already have something that does this.\n"
        "[00:12:40] Tom: Would it help if we did a pilot?\n"
        "[00:12:55] Maria (Acme): Not really, my team is stretched."
    )
    assert (
        spoken_by(doc, "buyer")
        == "We already have something that does this . Not really , my team is stretched ."
    )
    assert "pilot" in spoken_by(doc, "rep")
    for label in ("00:12:31", "Maria", "Acme", "Tom"):
        assert label in noise_words(doc)


def test_name_and_time_alone_on_a_line(nlp):
    doc = nlp(
        "Jordan Lee 14:02\n"
        "Thanks for joining, happy to walk you through our pricing.\n"
        "Priya Shah 14:03\n"
        "We went with another vendor, for us the reporting was too basic.\n"
        "Jordan Lee 14:04\n"
        "Sorry to hear that."
    )
    assert "reporting was too basic" in spoken_by(doc, "buyer")
    assert "pricing" in spoken_by(doc, "rep")
    assert "Sorry" in spoken_by(doc, "rep")
    assert {"Jordan", "Priya", "14:03"} <= set(noise_words(doc))


@pytest.mark.parametrize(
    "text",
    [
        "Reason: budget\nNext steps: none",
        "Subject: renewal\nPricing: too high for them",
        "Hi Maria: thanks for the call today, we'll pass for now.",
        "Call went fine. Sending the deck tomorrow.",
    ],
)
def test_crm_fields_and_salutations_are_not_speaker_turns(nlp, text):
    assert find_turns(text) == []
    doc = nlp(text)
    assert all(s is None for s in doc._.obj_speaker)


# -- negation ----------------------------------------------------------------


def test_forward_negation_marks_what_is_missing(nlp):
    doc = nlp("They have no SSO so security blocked it.")
    assert negation_of(doc, "SSO") == "negated"
    # "so" ends the scope.
    assert negation_of(doc, "security") is None
    assert negation_of(doc, "blocked") is None


def test_contracted_negation(nlp):
    doc = nlp("It doesn't integrate with NetSuite.")
    assert negation_of(doc, "integrate") == "negated"
    assert negation_of(doc, "NetSuite") == "negated"


def test_negation_scope_stops_at_but(nlp):
    doc = nlp("no SSO but they want a trial anyway")
    assert negation_of(doc, "SSO") == "negated"
    assert negation_of(doc, "want") is None
    assert negation_of(doc, "trial") is None


def test_negation_scope_stops_at_line_break(nlp):
    doc = nlp("- no mobile app\n- reporting great")
    assert negation_of(doc, "mobile") == "negated"
    assert negation_of(doc, "reporting") is None


def test_is_not_the_issue_dismisses_what_comes_before(nlp):
    doc = nlp("Budget isn't the issue. They don't see the value.")
    assert negation_of(doc, "Budget") == "dismissed"
    assert negation_of(doc, "value") == "negated"


@pytest.mark.parametrize(
    "text, word",
    [
        ("Integration was not a concern; they just never saw the ROI.", "Integration"),
        ("Security had nothing to do with it.", "Security"),
        ("Price was never really the problem for them.", "Price"),
    ],
)
def test_backward_dismissals(nlp, text, word):
    doc = nlp(text)
    assert negation_of(doc, word) == "dismissed"


def test_no_concerns_about_dismisses_what_follows(nlp):
    doc = nlp("We had no concerns about security, the pricing model was the problem.")
    assert negation_of(doc, "security") == "dismissed"
    # The comma ends the dismissal; the real reason keeps its plain meaning.
    assert negation_of(doc, "pricing") is None
    assert negation_of(doc, "model") is None


def test_not_worried_about_dismisses_what_follows(nlp):
    doc = nlp("We are not worried about onboarding.")
    assert negation_of(doc, "onboarding") == "dismissed"


def test_dismissal_does_not_leak_into_the_next_clause(nlp):
    doc = nlp("Integration was not a concern; they just never saw the ROI.")
    assert negation_of(doc, "ROI") == "negated"
    assert negation_of(doc, "they") is None


def test_negation_marks_reach_the_features(nlp):
    from objections.features import doc_to_features

    terms = doc_to_features(nlp("Budget isn't the issue. There is no SSO.")).terms()
    assert "ok_budget" in terms
    assert "neg_sso" in terms
    assert "budget" not in terms


# -- normalization -----------------------------------------------------------


def norm_terms(doc):
    return [t for t in doc._.obj_norm if t]


@pytest.mark.parametrize(
    "text, placeholder",
    [
        ("They balked at $45k a year.", "__money__"),
        ("Quote was EUR 12,000 per year.", "__money__"),
        ("It's a €3 million program.", "__money__"),
        ("They spent 250 dollars on the trial.", "__money__"),
        ("They asked for 20% off.", "__percent__"),
        ("Renewal slipped 15 percent.", "__percent__"),
        ("Budget frozen until Q3.", "__quarter__"),
        ("Revisit in H2.", "__quarter__"),
        ("Nothing new in FY25.", "__quarter__"),
        ("Contract ends 03/15/2026.", "__date__"),
        ("Call moved to June 5th.", "__date__"),
        ("Pilot started in 2024.", "__date__"),
        ("Pricing is on https://acme.example.com/pricing?plan=pro now.", "__url__"),
        ("Pricing is on www.acme.example.com now.", "__url__"),
        ("Write to sam.lee@acme.com for the contract.", "__email__"),
        ("Call me at +1 415-555-0132 tomorrow.", "__phone__"),
        ("Call me at (020) 7946 0958 tomorrow.", "__phone__"),
        ("They have 250 seats.", "__number__"),
    ],
)
def test_placeholders(nlp, text, placeholder):
    terms = norm_terms(nlp(text))
    assert terms.count(placeholder) == 1, terms
    # The placeholder replaces the digits: no number survives as a term.
    assert not any(ch.isdigit() for term in terms if not term.startswith("__") for ch in term), terms


def test_multi_token_placeholder_is_given_to_the_first_token(nlp):
    doc = nlp("They paid $45k in Q3 and want 20% off.")
    pairs = [(t.text, t._.norm_term) for t in doc]
    assert ("$", "__money__") in pairs
    assert ("45k", "") in pairs
    assert ("Q3", "__quarter__") in pairs
    assert ("20", "__percent__") in pairs
    assert ("%", "") in pairs


def test_other_words_become_lower_case_lemmas(nlp):
    doc = nlp("their CFO froze all new vendors.")
    assert norm_terms(doc) == ["their", "cfo", "freeze", "all", "new", "vendor"]


def test_capitalised_words_get_the_same_term_as_lower_case_ones(nlp):
    shouting = nlp("BUDGET FROZE. Vendors paused.")
    plain = nlp("budget froze. vendors paused.")
    assert norm_terms(shouting) == norm_terms(plain)


# -- sentences ---------------------------------------------------------------


def test_each_line_starts_a_sentence(nlp):
    doc = nlp("- call went ok\n- champion likes it\n- legal review next week")
    sentences = [s.text.strip() for s in doc.sents]
    assert sentences == ["- call went ok", "- champion likes it", "- legal review next week"]


def test_punctuation_still_splits_sentences(nlp):
    doc = nlp("Loved the demo. Budget frozen after the merger! Revisit in Q4?")
    assert [s.text for s in doc.sents] == [
        "Loved the demo.",
        "Budget frozen after the merger!",
        "Revisit in Q4?",
    ]


def test_crlf_line_ends_split_sentences(nlp):
    doc = nlp("no SAML\r\nteam too small")
    assert [s.text.strip() for s in doc.sents] == ["no SAML", "team too small"]


def test_sentence_starts_match_spacys_sentencizer(corpus):
    # Our sentencizer reads token columns instead of Token objects; it must
    # split exactly where spaCy's own does, on every note of the corpus and
    # on punctuation-heavy odd cases.
    import spacy

    blank = spacy.blank("en")
    theirs = blank.add_pipe("sentencizer")
    ours = blank.add_pipe("objections_sentencizer")
    tokenizer = get_nlp().tokenizer  # ours: HTML tags and entities split off
    texts = [row["text"] for row in corpus] + [
        "", "...", "Wait?! Really?!! ok.", "“Quoted.” Then more", "a . . b", "Done。次",
        "!!!", "x", "e.g. this one", "— no —. Yes", "Q: why? A: budget!!\n\nNext.",
        "No SSO.<br>Budget frozen!&nbsp;Next", "<p>Loved it.</p><p>But no.</p>",
    ]
    for text in texts:
        expected = [t.is_sent_start for t in theirs(tokenizer(text))]
        assert [t.is_sent_start for t in ours(tokenizer(text))] == expected, text


def test_sentencizer_keeps_sentence_starts_already_set(nlp):
    # As spaCy's does (overwrite=False): a boundary set before it runs stays.
    import spacy

    theirs = spacy.blank("en").add_pipe("sentencizer")
    for make in (spacy.blank("en").make_doc, nlp.tokenizer):
        doc, ref = make("a b c d. e f"), make("a b c d. e f")
        doc[2].is_sent_start = ref[2].is_sent_start = True
        ours = nlp.get_pipe("objections_sentencizer")(doc)
        assert [t.is_sent_start for t in ours] == [t.is_sent_start for t in theirs(ref)]
        assert ours[2].is_sent_start


def test_features_follow_sentence_starts_moved_after_the_pipeline(nlp):
    from objections.features import doc_to_features

    doc = nlp("budget is frozen and legal wants SSO")
    doc[4].is_sent_start = True
    assert [s[:2] for s in doc_to_features(doc).sentences] == [(0, 20), (21, 36)]


def test_pipeline_and_its_tokenizer_can_be_copied_and_pickled():
    import copy
    import pickle

    from objections.lexicon import Lexicon

    for nlp in (build_nlp(), build_nlp(lexicon=Lexicon.from_dict({"competitors": ["Acmecorp"]}))):
        text = "went with Acmecorp. Budget isn't the issue"
        expected = [t.text for t in nlp.tokenizer(text)]
        for clone in (copy.deepcopy(nlp.tokenizer), pickle.loads(pickle.dumps(nlp.tokenizer))):
            assert [t.text for t in clone(text)] == expected


def test_tokenizer_settings_reach_the_wrapped_tokenizer():
    # spaCy's documented way to customise tokenization must still work.
    import re

    nlp = build_nlp()
    nlp.tokenizer.infix_finditer = re.compile(r"~").finditer
    assert [t.text for t in nlp.tokenizer("no~sso")] == ["no", "~", "sso"]


# -- disabled components -----------------------------------------------------


@pytest.fixture(scope="module")
def bare_nlp():
    return build_nlp(disable=COMPONENTS)


def test_disabled_components_write_neutral_values(bare_nlp):
    text = (
        "Rep: any blockers?\nProspect: no SSO, and we paid $45k in Q3 <b>already</b>.\n\n"
        "On Mon, Dana <d@x.io> wrote:\n> hi"
    )
    doc = bare_nlp(text)
    assert doc.text == text
    assert doc._.obj_noise == [False] * len(doc)
    assert doc._.obj_speaker == [None] * len(doc)
    assert all(t._.negation is None for t in doc)
    # No placeholders and no lemmas: the lower-cased token text.
    assert "__money__" not in doc._.obj_norm
    assert "paid" in doc._.obj_norm
    assert "prospect" in doc._.obj_norm
    # Without the line-break component the lines are one sentence.
    assert doc[: len(doc)].text.startswith(next(iter(doc.sents)).text)
    assert len(list(doc.sents)) < text.count("\n")


def test_disabling_one_component_keeps_the_others(nlp):
    no_negation = build_nlp(disable=("objections_negation",))
    text = "Rep: any blockers?\nProspect: no SSO, budget is fine. We paid $45k."
    doc = no_negation(text)
    assert all(t._.negation is None for t in doc)
    full = nlp(text)
    assert doc._.obj_noise == full._.obj_noise
    assert doc._.obj_speaker == full._.obj_speaker
    assert doc._.obj_norm == full._.obj_norm
    assert any(v for v in full._.obj_negation)


def test_features_cite_the_docs_own_text_when_given_another(nlp):
    # Evidence offsets index the Doc's text; a text that is not the one the
    # tokens were cut from (a tokenizer that rewrote it) is not trusted.
    from objections.features import doc_to_features

    doc = nlp("No SSO. Budget frozen.")
    note = doc_to_features(doc, text="no sso")
    assert note.text == "No SSO. Budget frozen."
    assert [note.text[a:b] for a, b, _ in note.sentences] == ["No SSO.", "Budget frozen."]
    doc = nlp("No SSO. Budget frozen. ")
    assert doc_to_features(doc, text="No SSO. Budget frozen. ").text == "No SSO. Budget frozen. "
