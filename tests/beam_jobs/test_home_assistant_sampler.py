from beam_jobs.dataset import home_assistant as ha

VALUES = ha.load_value_lists("builtin")


def _templates(langs=("en", "th")):
    templates, skipped = ha.list_templates(list(langs), VALUES)
    return templates, skipped


def test_sampler_is_deterministic_for_a_seed_and_varies_with_it():
    templates, _ = _templates()
    picked = templates[::50]
    first = [[(u.text, u.spans) for u in ha.sample_template(t, 3, 7, VALUES)] for t in picked]
    again = [[(u.text, u.spans) for u in ha.sample_template(t, 3, 7, VALUES)] for t in picked]
    other = [[(u.text, u.spans) for u in ha.sample_template(t, 3, 8, VALUES)] for t in picked]
    assert first == again
    assert first != other


def test_spans_slice_list_values_out_of_the_text():
    templates, _ = _templates(("en",))
    area_values = set(VALUES["en"]["area"])
    seen_area = 0
    for t in templates:
        for u in ha.sample_template(t, 2, 1, VALUES):
            assert u.text == u.text.strip() and "  " not in u.text
            for start, end, name in u.spans:
                value = u.text[start:end]
                assert value and value == value.strip()
                if name == "area":
                    seen_area += 1
                    assert value.lower() in {a.lower() for a in area_values}, (u.text, value)
    assert seen_area > 50


def test_templates_without_values_are_skipped_and_counted():
    with_values, _ = ha.list_templates(["en"], VALUES)
    without_values, skipped = ha.list_templates(["en"], {})
    assert len(without_values) < len(with_values)
    assert any("{area}" in reason for reason in skipped)
    assert any("wildcard" in reason for reason in skipped)
    assert all("{area}" not in t.template for t in without_values)


def test_group_id_is_per_language_template():
    templates, _ = _templates()
    ids = {t.group_id for t in templates}
    assert all(i.startswith("home_assistant:en:") or i.startswith("home_assistant:th:") for i in ids)


def test_training_templates_of_a_small_language_get_more_samples():
    templates, _ = _templates(("en", "th"))
    is_train = lambda ref: ref.index % 2 == 0  # noqa: E731
    counts = ha.samples_per_template(templates, 2, 1000, is_train)
    train_th = sum(1 for t in templates if t.lang == "th" and is_train(t))
    for t in templates:
        expected = max(2, -(-1000 // train_th)) if t.lang == "th" and is_train(t) else None
        if expected is not None:
            assert counts[t] == expected
        elif not is_train(t):
            assert counts[t] == 2
    assert ha.samples_per_template(templates, 2, 0, is_train) == {t: 2 for t in templates}
