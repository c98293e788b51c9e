"""The Translator on a tiny trained model: search settings, batching, splitting, attention."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from nmt.alignment import pharaoh, word_alignment
from nmt.segment import split_ids
from nmt.tokenizer import EOS_ID
from nmt.translator import Translator

SENTENCES = [
    "alpha bravo charlie",
    "kilo lima golf echo",
    "india juliet",
    "delta echo foxtrot golf",
]
EXPECTED = ["CHARLIE BRAVO ALPHA", "ECHO GOLF LIMA KILO", "JULIET INDIA", "GOLF FOXTROT ECHO DELTA"]


@pytest.fixture(scope="module")
def translator(trained_run) -> Translator:
    return Translator.from_checkpoint(trained_run)


def teacher_forced_log_prob(translator: Translator, src: list[int], tgt: list[int]) -> float:
    """Sum of the model's log-probabilities of ``tgt`` + EOS given ``src`` (no search)."""
    from nmt.tokenizer import BOS_ID

    inputs = {
        "encoder_inputs": tf.constant([src], tf.int32),
        "decoder_inputs": tf.constant([[BOS_ID, *tgt]], tf.int32),
    }
    log_probs = tf.nn.log_softmax(translator.model(inputs), axis=-1)[0].numpy()
    return float(sum(log_probs[i, t] for i, t in enumerate([*tgt, EOS_ID])))


def test_greedy_and_beam_translate_the_reverse_task(translator):
    assert translator.translate(SENTENCES, beam_size=1) == EXPECTED
    assert translator.translate(SENTENCES, beam_size=4) == EXPECTED


def test_beam_one_is_greedy_and_scores_are_model_log_probs(translator):
    greedy = translator.translate_detailed(SENTENCES, beam_size=1)
    beam = translator.translate_detailed(SENTENCES, beam_size=3, n_best=3)
    src_ids = translator.encode_sources(SENTENCES)
    for src, g, b in zip(src_ids, greedy, beam):
        assert g[0].tokens == b[0].tokens
        for hyp in (g[0], *b):
            expected = teacher_forced_log_prob(translator, src, hyp.tokens)
            assert hyp.log_prob == pytest.approx(expected, abs=1e-3)


def test_frozen_tables_give_the_same_search_as_the_live_model(translator):
    """from_checkpoint keeps the decoder's tables; a translator over a model in training
    (not frozen) computes from the weights at each step: same hypotheses, same scores."""
    live = Translator(
        translator.model, translator.src_tokenizer, translator.tgt_tokenizer,
        translator.decode, config=translator.config,
    )  # fmt: skip
    assert translator.executor.frozen and not live.executor.frozen
    for beam in (1, 3):
        frozen = translator.translate_detailed(SENTENCES, beam_size=beam, n_best=beam)
        plain = live.translate_detailed(SENTENCES, beam_size=beam, n_best=beam)
        assert live.executor.decode_tables() is None
        assert translator.executor.decode_tables() is not None
        for f, p in zip(frozen, plain):
            assert [h.tokens for h in f] == [h.tokens for h in p]
            np.testing.assert_allclose([h.log_prob for h in f], [h.log_prob for h in p], atol=1e-4)


def test_n_best_lists_are_distinct_and_ordered(translator):
    for hyps in translator.translate_detailed(SENTENCES, beam_size=5, n_best=5):
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5
        for h in hyps:  # normalised score = log-prob / GNMT penalty of the length with EOS
            alpha = translator.decode.length_penalty
            assert h.score == pytest.approx(h.log_prob / ((5 + len(h.tokens) + 1) / 6) ** alpha)


def test_pruning_keeps_the_best_translation_and_spares_n_best_lists(translator):
    """The default pruned beam finds the unpruned beam's translations; n-best lists (which
    are asked for to see the alternatives) are searched without pruning, so a tiny margin
    changes nothing in them."""
    decode = translator.decode
    default_prune = decode.beam_prune
    assert default_prune > 0
    try:
        pruned = translator.translate_detailed(SENTENCES, beam_size=4)
        decode.beam_prune = 0.0
        full = translator.translate_detailed(SENTENCES, beam_size=4)
        full_lists = translator.translate_detailed(SENTENCES, beam_size=4, n_best=4)
        decode.beam_prune = 0.01
        narrow_lists = translator.translate_detailed(SENTENCES, beam_size=4, n_best=4)
    finally:
        decode.beam_prune = default_prune
    assert [h[0].text for h in pruned] == [h[0].text for h in full] == EXPECTED
    for a, b in zip(full_lists, narrow_lists):
        assert [h.tokens for h in a] == [h.tokens for h in b]


def test_order_and_empty_inputs_are_kept(translator):
    texts = ["", SENTENCES[1], "   ", SENTENCES[0], SENTENCES[2]]
    out = translator.translate(texts, beam_size=2)
    assert out == ["", EXPECTED[1], "", EXPECTED[0], EXPECTED[2]]


def test_attention_rows_are_distributions_over_the_source(translator):
    for beam in (1, 3):
        hyps = translator.translate_detailed(SENTENCES, beam_size=beam, with_attention=True)
        for (hyp,), src, text in zip(hyps, translator.encode_sources(SENTENCES), SENTENCES):
            assert hyp.src_tokens == src
            assert hyp.attention.shape == (len(hyp.tokens), len(src))
            np.testing.assert_allclose(hyp.attention.sum(axis=1), 1.0, atol=1e-4)
            pairs = word_alignment(
                translator.src_tokenizer.pieces(hyp.src_tokens),
                translator.tgt_tokenizer.pieces(hyp.tokens),
                hyp.attention,
            )
            assert re.fullmatch(r"\d+-\d+( \d+-\d+)*", pharaoh(pairs))
            assert sorted(t for _, t in pairs) == list(range(len(hyp.text.split())))
            assert all(0 <= s < len(text.split()) for s, _ in pairs)


def test_over_long_input_is_split_and_joined_not_cut(translator):
    long_text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima"
    stats: Counter = Counter()
    settings = translator.settings(beam_size=2, max_source_tokens=8)
    (hyp,) = translator.translate_detailed([long_text], stats=stats, settings=settings)[0]
    assert stats["split_lines"] == 1 and stats["split_pieces"] >= 2
    ids = translator.encode_sources([long_text])[0]
    parts = split_ids(ids, translator.src_tokenizer.pieces(ids), 8)
    pieces = [translator.src_tokenizer.sp.decode(p) for p in parts]
    assert " ".join(translator.translate(pieces, beam_size=2)) == hyp.text
    assert len(hyp.text.split()) == len(long_text.split())


def test_search_graph_is_traced_once_per_setting(trained_run):
    translator = Translator.from_checkpoint(trained_run)
    for texts in (SENTENCES[:1], SENTENCES, SENTENCES[:3] * 7):
        translator.translate(texts, beam_size=3)
    (settings,) = translator.executor.traced()
    assert translator.executor.compiled(settings).experimental_get_tracing_count() == 1


def test_small_first_request_runs_eagerly_then_the_graph_takes_over(trained_run, monkeypatch):
    """A small first 1-best request is answered in NumPy, one with n-best lists or attention
    eagerly by TensorFlow; neither traces a graph, the next request does."""
    translator = Translator.from_checkpoint(trained_run)
    executor = translator.executor
    ways = []
    for name in ("numpy_search", "eager_search"):
        method = getattr(executor, name)
        monkeypatch.setattr(
            executor, name, lambda *a, m=method, n=name, **k: ways.append(n) or m(*a, **k)
        )
    first = translator.translate_detailed(SENTENCES, beam_size=3)
    assert not executor.traced() and ways == ["numpy_search"]
    lists = translator.translate_detailed(SENTENCES, beam_size=2, n_best=2)
    assert not executor.traced() and ways[1:] == ["eager_search"]
    assert [h[0].text for h in lists] == EXPECTED
    second = translator.translate_detailed(SENTENCES, beam_size=3)
    (settings,) = executor.traced()
    assert executor.compiled(settings).experimental_get_tracing_count() == 1
    assert [h[0].text for h in first] == [h[0].text for h in second] == EXPECTED
    assert [h[0].log_prob for h in first] == pytest.approx(
        [h[0].log_prob for h in second], abs=1e-5
    )
    translator.compile(translator.settings(beam_size=1))  # what interactive mode runs
    ways.clear()
    translator.translate(SENTENCES[:1], beam_size=1)
    assert len(executor.traced()) == 2 and "numpy_search" not in ways  # ready: no detour


def test_small_requests_do_not_wait_for_a_compile_in_progress(trained_run):
    """While compile() traces a setting's graph (interactive mode runs it in a thread), small
    1-best requests of that setting are answered in NumPy; afterwards the graph serves them."""
    translator = Translator.from_checkpoint(trained_run)
    executor, settings = translator.executor, translator.settings(beam_size=3)
    executor._compiling.add(settings.search)  # as if compile() ran in another thread
    for _ in range(3):
        assert translator.translate(SENTENCES, settings=settings) == EXPECTED
    assert not executor.traced()
    executor._compiling.discard(settings.search)
    thread = threading.Thread(target=translator.compile, args=(settings,))
    thread.start()
    for _ in range(3):  # NumPy or the graph, whichever the moment gives: the same answers
        assert translator.translate(SENTENCES, settings=settings) == EXPECTED
    thread.join()
    assert executor.is_ready(settings.search) and not executor._compiling
    assert translator.translate(SENTENCES, settings=settings) == EXPECTED
    (traced,) = executor.traced()
    assert executor.compiled(traced).experimental_get_tracing_count() == 1


def test_beam_batches_keep_the_token_budget_and_cap_the_log_probabilities(trained_run, monkeypatch):
    """Every beam size gets the same source-token budget; only the size of the beams'
    log-probabilities ``(sentences * beam, vocabulary)`` lowers the sentences per batch."""
    import nmt.translator as translator_module

    translator = Translator.from_checkpoint(trained_run)
    vocab = translator.model.tgt_vocabulary_size
    monkeypatch.setattr(translator_module, "DECODE_LOGITS_BYTES", 4 * 3 * vocab * 5)

    def settings(beam: int):
        return translator.settings(beam_size=beam, max_batch_size=8, token_budget=10_000)

    assert translator.batch_sentences(settings(1)) == 8  # max_batch_size binds
    assert translator.batch_sentences(settings(3)) == 5  # 5 sentences x 3 beams fill the cap
    assert translator.batch_sentences(settings(16)) == 1  # never below one sentence
    texts = SENTENCES * 5
    widths = []
    real = translator.executor.searcher

    def counting(*args):
        search = real(*args)
        return lambda src: (widths.append(int(src.shape[0])), search(src))[1]

    monkeypatch.setattr(translator.executor, "searcher", counting)
    for beam, expected in ((1, [8, 8, 4]), (3, [5, 5, 5, 5])):
        widths.clear()
        assert translator.translate(texts, settings=settings(beam)) == EXPECTED * 5
        assert widths == expected


def test_concurrent_requests_with_different_settings_share_one_model(trained_run):
    """What a server does: threads translate at once with their own settings; every answer
    is the one the same request gets alone, and the translator's defaults never change."""
    translator = Translator.from_checkpoint(trained_run)
    defaults = dataclasses.replace(translator.decode)
    requests = [translator.settings(beam_size=b, n_best=n) for b, n in ((1, 1), (3, 1), (3, 2))]
    alone = [translator.translate_detailed(SENTENCES, settings=s) for s in requests]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = translator.translate_detailed(SENTENCES, settings=requests[i % 3])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, found in results.items():
        want = alone[i % 3]
        assert [[h.tokens for h in hyps] for hyps in found] == [
            [h.tokens for h in hyps] for hyps in want
        ]
    assert translator.decode == defaults
    assert len(translator.executor.traced()) == 3  # one graph per search setting


def test_workers_translate_a_requests_batches_side_by_side_with_the_same_results(trained_run):
    """A translator with workers runs a request's batches on several threads at once, its
    batches smaller so that each worker gets several; every result is the one-thread result,
    in input order, empty inputs included."""
    import nmt.translator as translator_module

    one = Translator.from_checkpoint(trained_run)
    two = Translator.from_checkpoint(trained_run, workers=2)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "golf", "india", "juliet", "kilo"]
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 7))) for _ in range(90)]
    texts[17] = ""
    settings = one.settings(beam_size=3, n_best=2)
    calls: list[tuple[int, int]] = []  # (thread, sentences) of each search call
    active, most = [0], [0]
    lock = threading.Lock()
    real = two.executor.searcher

    def recording(*args):
        search = real(*args)

        def run(src):
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            try:
                return search(src)
            finally:
                with lock:
                    active[0] -= 1
                    calls.append((threading.get_ident(), len(src)))

        return run

    two.executor.searcher = recording
    want = one.translate_detailed(texts, settings=settings)
    got = two.translate_detailed(texts, settings=settings)
    assert [[(h.text, h.tokens) for h in hyps] for hyps in got] == [
        [(h.text, h.tokens) for h in hyps] for hyps in want
    ]
    assert [h.score for hyps in got for h in hyps] == pytest.approx(
        [h.score for hyps in want for h in hyps], abs=1e-5
    )
    assert got[17][0].text == ""
    share = -(-89 // (2 * translator_module.BATCHES_PER_WORKER))
    per_call = max(translator_module.MIN_PARALLEL_BATCH, share)
    assert sum(n for _, n in calls) == 89 and max(n for _, n in calls) <= per_call
    assert len({thread for thread, _ in calls}) == 2  # both workers searched
    assert most[0] == 2  # at the same time
    with pytest.raises(ValueError, match="workers"):
        Translator.from_checkpoint(trained_run, workers=0)


def test_the_numpy_translator_gives_the_compiled_searchs_translations(trained_run):
    """``from_run_numpy`` (h5py weights, no TensorFlow search) finds what the compiled search
    finds: the same pieces, the same scores, and it refuses what it cannot do."""
    from nmt.numpy_decode import NeedsTensorFlow

    full = Translator.from_checkpoint(trained_run)
    quick = Translator.from_run_numpy(trained_run)
    texts = [*SENTENCES, "", "india juliet kilo lima golf echo delta bravo"]
    for beam in (1, 3):
        want = full.translate_detailed(texts * 5, beam_size=beam)[: len(texts)]  # compiled
        got = quick.translate_detailed(texts, beam_size=beam)
        assert [h[0].text for h in got] == [h[0].text for h in want]
        assert [h[0].tokens for h in got] == [h[0].tokens for h in want]
        np.testing.assert_allclose([h[0].score for h in got], [h[0].score for h in want], atol=1e-4)
    with pytest.raises(NeedsTensorFlow):
        quick.translate_detailed(SENTENCES, beam_size=2, n_best=2)
