"""Held-out loss, answer accuracy by metric, forgetting."""

from __future__ import annotations

import math

import pytest
import torch

from sclora.data import Examples
from sclora.errors import SCLoRAError
from sclora.evaluate import answer_accuracy, evaluate, forgetting, heldout_loss, tokenized_loss
from sclora.models import tiny_model
from sclora.tokens import tokenize_examples

torch.set_num_threads(1)  # see tests/test_train.py


def _qa(pairs, source="inline") -> Examples:
    return Examples(source=source, format="jsonl", shape="prompt_response",
                    records=[{"prompt": p, "response": r} for p, r in pairs])


MATH = _qa([(f"What is {i} plus 3?", f"{i} + 3 = {i + 3}. The answer is {i + 3}.") for i in range(6)])
KNOWLEDGE = _qa([("Capital of France?", "Paris"), ("Legs of a spider?", "eight"), ("Capital of Peru?", "Lima"),
                 ("Largest planet?", "Jupiter")])


@pytest.fixture(scope="module")
def tiny():
    return tiny_model("tiny-llama")


def test_loss_is_the_mean_over_response_tokens(tiny):
    model, tok = tiny
    data = tokenize_examples(MATH, tok, max_length=64)
    loss, count = tokenized_loss(model, data, batch_size=4, pad_id=tok.pad_token_id)
    # Reference: one unpadded example at a time, token-weighted mean of transformers' own loss.
    total, n = 0.0, 0
    with torch.no_grad():
        for ids, lab in zip(data.input_ids, data.labels):
            k = sum(t != -100 for t in lab[1:])
            out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([lab]))
            total, n = total + out.loss.item() * k, n + k
    assert count == n
    assert loss == pytest.approx(total / n, rel=1e-5)


def test_loss_does_not_depend_on_batch_size(tiny):
    model, tok = tiny
    data = tokenize_examples(MATH, tok, max_length=64)
    one, _ = tokenized_loss(model, data, batch_size=1)
    many, _ = tokenized_loss(model, data, batch_size=6)
    assert one == pytest.approx(many, rel=1e-5)


def test_perplexity_is_exp_loss(tiny):
    model, tok = tiny
    out = heldout_loss(model, tok, KNOWLEDGE, max_length=64)
    assert out["perplexity"] == pytest.approx(math.exp(out["loss"]))
    assert out["tokens"] > 0 and out["truncated"] == 0


@pytest.mark.parametrize("metric, examples, answers, expected", [
    ("math", MATH, ["So 0 + 3 = 3. The answer is 3.", "The answer is 5.", "4", "The answer is 6.", "", "x"],
     2 / 6),
    ("exact", KNOWLEDGE, ["It is Paris.", "Spiders have 8 legs.", "Lima!", "Saturn"], 3 / 4),
    ("refusal", KNOWLEDGE, ["I can't help with that.", "Sure, here it is", "I'm sorry, no.", "ok"], 2 / 4),
])
def test_answer_accuracy_scores_by_metric(tiny, monkeypatch, metric, examples, answers, expected):
    import sclora.evaluate

    model, tok = tiny
    asked = []

    def fake_read(model, tokenizer, prompts, choices=None, *, max_new_tokens=0, batch_size=16):
        asked.extend(prompts)
        return None, answers[: len(prompts)]

    monkeypatch.setattr(sclora.evaluate, "choices_and_answers", fake_read)
    acc, rows = answer_accuracy(model, tok, examples, metric)
    assert acc == pytest.approx(expected)
    assert asked == [r["prompt"] for r in examples.records]
    assert [r["answer"] for r in rows] == answers and sum(r["correct"] for r in rows) == round(expected * len(rows))


def test_generation_is_bounded_by_max_eval(tiny, monkeypatch):
    import sclora.evaluate

    model, tok = tiny
    calls = []
    monkeypatch.setattr(sclora.evaluate, "choices_and_answers",
                        lambda m, t, prompts, choices=None, max_new_tokens=0, batch_size=16:
                        calls.append((prompts, max_new_tokens)) or (None, ["x"] * len(prompts)))
    acc, rows = answer_accuracy(model, tok, MATH, "math", max_eval=2)
    assert len(rows) == 2 and len(calls[0][0]) == 2 and calls[0][1] <= 64


def test_evaluate_scores_losses_on_a_fixed_subset_and_the_choices_with_the_answers(tiny):
    import dataclasses

    from sclora.evaluate import choices_and_answers

    model, tok = tiny
    choices = [["Paris", "Rome", "Oslo"], ["eight", "six", "two"], ["Lima", "Quito", "Bogota"],
               ["Jupiter", "Mars", "Venus"]]
    out = evaluate(model, tok, MATH, KNOWLEDGE, finetune_metric="math", preserve_metric="exact", max_length=64,
                   max_eval=3, max_loss=2, preserve_choices=choices)
    first_two = dataclasses.replace(MATH, records=MATH.records[:2])
    assert out["finetune_loss"] == pytest.approx(heldout_loss(model, tok, first_two, max_length=64)["loss"])
    assert out["finetune_loss"] != pytest.approx(heldout_loss(model, tok, MATH, max_length=64)["loss"])
    scores, answers = choices_and_answers(model, tok, [r["prompt"] for r in KNOWLEDGE.records[:3]], choices[:3],
                                          max_new_tokens=24)
    right = [s[0][0] / s[0][1] > max(lp / n for lp, n in s[1:]) for s in scores]  # length-normalised, ties wrong
    rows = [r for r in out["answers"] if r["set"] == "preserve"]
    assert [r["choice_correct"] for r in rows] == right and [r["answer"] for r in rows] == answers
    assert out["preserve_choice_accuracy"] == pytest.approx(sum(right) / 3)
    assert "preserve_choice_accuracy" not in evaluate(model, tok, MATH, KNOWLEDGE, preserve_metric="exact",
                                                      max_length=64, max_eval=1)
    with pytest.raises(SCLoRAError, match="max_loss"):
        evaluate(model, tok, MATH, KNOWLEDGE, max_loss=0)


def test_evaluate_both_sets_real_generation(tiny):
    model, tok = tiny
    out = evaluate(model, tok, MATH, KNOWLEDGE, finetune_metric="math", preserve_metric=None, max_length=64,
                   max_eval=2)
    assert set(out) >= {"finetune_loss", "finetune_perplexity", "preserve_loss", "preserve_perplexity",
                        "finetune_accuracy", "preserve_accuracy", "answers"}
    assert out["finetune_accuracy"] == 0.0  # a random model never writes "The answer is N."
    assert out["preserve_accuracy"] is None  # no metric: no generation
    assert [r["set"] for r in out["answers"]] == ["finetune", "finetune"]


def test_forgetting_signs():
    before = {"preserve_loss": 1.0, "preserve_accuracy": 0.8}
    after = {"preserve_loss": 1.5, "preserve_accuracy": 0.6}
    f = forgetting(before, after)
    assert f["preserve_loss_change"] == pytest.approx(0.5)
    assert f["preserve_accuracy_change"] == pytest.approx(-0.2)
    assert forgetting({"preserve_loss": 1.0}, {"preserve_loss": 1.0})["preserve_accuracy_change"] is None


def test_bad_metric_and_max_eval(tiny):
    model, tok = tiny
    with pytest.raises(SCLoRAError, match="Unknown metric 'bleu'"):
        answer_accuracy(model, tok, MATH, "bleu")
    with pytest.raises(SCLoRAError, match="'max_eval' must be an integer >= 1"):
        answer_accuracy(model, tok, MATH, "math", max_eval=0)


@pytest.mark.parametrize("architecture", ["tiny-llama", "tiny-gpt2"])
def test_choice_logprobs_equal_scoring_each_choice_alone(architecture):
    """The shared prompt cache gives each choice the log-probability of scoring prompt + choice in one pass."""
    from sclora.evaluate import _choice_tokens, choice_logprobs

    model, tok = tiny_model(architecture)
    questions = ["What is the capital of France?", "Name a colour?", "Which number is the largest?"]
    choices = [["Paris", "Berlin", "New Delhi", "Rome"], ["red", "a very dark shade of blue"], ["7", "12", "one hundred"]]
    got = choice_logprobs(model, tok, questions, choices, batch_size=2)
    assert [len(g) for g in got] == [4, 2, 3]
    for question, options, scores in zip(questions, choices, got):
        for option, (logprob, n) in zip(options, scores):
            prompt, answer = _choice_tokens(tok, question, option)
            assert n == len(answer) >= 1
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prompt + answer])).logits[0].float()
            alone = torch.log_softmax(logits[len(prompt) - 1 : -1], -1).gather(-1, torch.tensor(answer)[:, None]).sum()
            assert logprob == pytest.approx(float(alone), abs=1e-4)


QUESTIONS = ["What is the capital of France?", "What is the capital of Peru?", "Hi", "Which number is largest?",
             "What is the capital of a very small country far away in the south?"]
CHOICES = [["Paris", "Berlin", "Rome"], ["Lima", "Quito"], ["hello", "bye"], ["7", "12", "one hundred"], ["x", "y z"]]


@pytest.mark.parametrize("architecture", ["tiny-llama", "tiny-gpt2", "tiny-qwen2"])
def test_choices_and_answers_read_each_prompt_once_and_agree_with_generate(architecture):
    """Greedy answers continued from the shared prompt cache are generate()'s answers, stops included, and the
    choices scored in the same pass are those scored without answering."""
    from sclora.evaluate import choice_logprobs, choices_and_answers
    from sclora.generation import format_prompt, generate

    model, tok = tiny_model(architecture)
    model = model.double()  # a random tiny model's logits are close: float64 keeps every argmax the same
    full = choices_and_answers(model, tok, QUESTIONS, max_new_tokens=10)[1]
    # Make prompts 0 and 3 stop early: their first greedy token also ends an answer.
    with torch.no_grad():
        stops = [int(model(**tok(format_prompt(tok, QUESTIONS[i]), return_tensors="pt", add_special_tokens=False))
                     .logits[0, -1].argmax()) for i in (0, 3)]
    model.generation_config.eos_token_id = [tok.eos_token_id, *stops]
    expected = generate(model, tok, QUESTIONS, max_new_tokens=10, batch_size=1)
    scores, answers = choices_and_answers(model, tok, QUESTIONS, CHOICES, max_new_tokens=10, batch_size=3)
    assert answers == expected
    stopped = [i for i in (0, 3) if full[i]]  # tiny GPT-2 answers whitespace only, which strips to ''
    assert all(len(answers[i]) < len(full[i]) for i in stopped) and (stopped or architecture == "tiny-gpt2")
    alone = choice_logprobs(model, tok, QUESTIONS, CHOICES, batch_size=2)
    assert [[n for _, n in s] for s in scores] == [[n for _, n in s] for s in alone]
    assert [lp for s in scores for lp, _ in s] == pytest.approx([lp for s in alone for lp, _ in s], abs=1e-4)
    assert choices_and_answers(model, tok, QUESTIONS, max_new_tokens=3)[0] is None
    assert choices_and_answers(model, tok, QUESTIONS, CHOICES)[1] is None


def test_choices_and_answers_reject_bad_arguments(tiny):
    from sclora.evaluate import choices_and_answers

    model, tok = tiny
    with pytest.raises(SCLoRAError, match="Nothing to do"):
        choices_and_answers(model, tok, QUESTIONS)
    with pytest.raises(SCLoRAError, match="one list of choices per question"):
        choices_and_answers(model, tok, QUESTIONS, CHOICES[:2])
    with pytest.raises(SCLoRAError, match="at least two choices"):
        choices_and_answers(model, tok, QUESTIONS[:1], [["only"]])
    with pytest.raises(SCLoRAError, match="max_new_tokens must be between 0 and 1024"):
        choices_and_answers(model, tok, QUESTIONS, max_new_tokens=-1)
    with pytest.raises(SCLoRAError, match="no questions"):
        choices_and_answers(model, tok, [], max_new_tokens=2)


def test_example_losses_sum_to_the_mean_loss():
    from sclora.evaluate import example_losses

    model, tok = tiny_model()
    data = tokenize_examples(MATH, tok, max_length=64)
    per = example_losses(model, data, batch_size=4, pad_id=tok.pad_token_id)
    mean, count = tokenized_loss(model, data, batch_size=3, pad_id=tok.pad_token_id)
    assert len(per) == 6 and sum(n for _, n in per) == count
    assert sum(s for s, _ in per) / count == pytest.approx(mean, rel=1e-5)
    first = tokenize_examples(_qa([(MATH.records[0]["prompt"], MATH.records[0]["response"])]), tok, max_length=64)
    assert per[0] == pytest.approx(example_losses(model, first, pad_id=tok.pad_token_id)[0], rel=1e-5)
