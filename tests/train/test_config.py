"""rdm-train settings: flags, --model overrides, TOML/JSON files and their precedence."""
import json

import pytest

from rdm.train.config import TrainConfig, parse_args


def test_defaults_train_tiny_on_the_default_corpus():
    config = parse_args([])
    assert config == TrainConfig()
    assert config.preset == "tiny" and config.data == [] and config.dist == "none"


def test_flags_and_model_overrides():
    config = parse_args([
        "--preset", "100m", "--steps", "7", "--lr", "1e-4", "--data", "a.txt", "b/",
        "--eval-loops", "1", "3", "--no-gradient-checkpointing", "--resume",
        "--model", "n_loops=3", "--model", "coda_mixers=[\"gla\"]", "--model", "halting=none",
    ])
    assert (config.preset, config.steps, config.lr, config.data) == ("100m", 7, 1e-4, ["a.txt", "b/"])
    assert config.eval_loops == [1, 3] and config.resume and not config.gradient_checkpointing
    assert config.model == {"n_loops": 3, "coda_mixers": ["gla"], "halting": "none"}
    model = config.model_config(vocab_size=256)
    assert model.n_loops == 3 and model.coda_mixers == ("gla",) and model.d_model == 768


def test_toml_file_is_overridden_by_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('steps = 11\nbatch_size = 3\nout = "x"\n[model]\nn_loops = 3\nmax_loops = 6\n')
    config = parse_args(["--config", str(path), "--steps", "5", "--model", "max_loops=5"])
    assert (config.steps, config.batch_size, config.out) == (5, 3, "x")
    assert config.model == {"n_loops": 3, "max_loops": 5}


def test_json_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"seq_len": 64, "dist": "ddp", "model": {"d_model": 32}}))
    config = parse_args(["--config", str(path)])
    assert (config.seq_len, config.dist, config.model) == (64, "ddp", {"d_model": 32})


def test_vocabulary_grows_to_the_tokenizer():
    assert TrainConfig().model_config(vocab_size=1000).vocab_size == 1000
    assert TrainConfig().model_config(vocab_size=100).vocab_size == 256


@pytest.mark.parametrize("argv, message", [
    (["--dist", "mpi"], "dist must be one of"),
    (["--steps", "0"], "steps must be"),
    (["--model", "not_a_field=1"], "unknown model fields"),
    (["--model", "n_loops"], "KEY=VALUE"),
    (["--eval-loops", "0"], "eval_loops"),
    (["--steps", "many"], "invalid int"),
])
def test_bad_settings_are_rejected_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


def test_unknown_key_in_a_file(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text("stepz = 3\n")
    with pytest.raises(SystemExit):
        parse_args(["--config", str(path)])
    assert "unknown settings ['stepz']" in capsys.readouterr().err
