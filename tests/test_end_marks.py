"""Final punctuation learned from training data: what is learned, added and taken off."""

from nmt.end_marks import MIN_PUNCTUATED_SHARE, EndMarks, learn_end_marks


def test_marks_are_learned_only_from_nearly_all_punctuated_sides():
    src = ["Hello there.", "Who is it?", "Go.", "Run!"] * 10
    tgt = ["Hola.", "¿Quién es?", "Vete.", "¡Corre!"] * 10
    found = learn_end_marks(src, tgt)
    assert found["marks"] == {"src": ".", "tgt": "."}
    assert found["src_punctuated"] == found["tgt_punctuated"] == 1.0
    # captions without final punctuation: nothing to complete
    found = learn_end_marks(src, ["Hola", "Quién es", "Vete", "¡Corre!"] * 10)
    assert found["tgt_punctuated"] < MIN_PUNCTUATED_SHARE and found["marks"] is None
    assert learn_end_marks([], [])["marks"] is None
    # other scripts' marks are learned as they are
    assert learn_end_marks(["私は学生です。"] * 5, ["I am a student."] * 5)["marks"] == {
        "src": "。",
        "tgt": ".",
    }


def test_complete_and_strip():
    marks = EndMarks(".", "。")
    assert marks.complete("Mary") == ("Mary.", True)
    assert marks.complete("Mary  ") == ("Mary.", True)
    assert marks.complete("Mary?") == ("Mary?", False)
    assert marks.complete('He said "yes"') == ('He said "yes"', False)  # a quote is punctuation
    assert marks.complete("") == ("", False) and marks.complete("   ") == ("   ", False)
    assert marks.strip("メアリー。") == "メアリー"
    assert marks.strip("メアリー？") == "メアリー？"
    assert marks.strip("") == ""


def test_bad_metadata_records_are_ignored():
    assert EndMarks.from_dict(None) is None
    assert EndMarks.from_dict({"src": ".", "tgt": ".."}) is None
    assert EndMarks.from_dict({"src": 1, "tgt": "."}) is None
    assert EndMarks.from_dict({"src": "!", "tgt": "¡"}) == EndMarks("!", "¡")


def test_training_records_what_its_data_say(trained_run):
    from nmt.checkpoint import read_metadata

    found = read_metadata(trained_run)["end_marks"]
    # the reverse task's sentences have no punctuation at all: nothing is completed
    assert found["src_punctuated"] == found["tgt_punctuated"] == 0.0
    assert found["marks"] is None
