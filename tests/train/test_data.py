"""Data: reading sources, the byte tokenizer, packing into rows with boundaries, per-step batches."""
import json

import pytest
import torch

from rdm.train.corpus import default_corpus
from rdm.train.data import BatchSchedule, make_batch, pack_documents, split_held_out
from rdm.train.sources import read_documents
from rdm.train.tokenizer import ByteTokenizer, load_tokenizer


def test_packing_keeps_document_boundaries_and_cuts_rows():
    documents = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16, 17]]
    rows = pack_documents(documents, seq_len=4)
    assert rows.tokens.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]  # 17 dropped
    # Document 2 starts at column 3 of row 0 and continues, cut, at the start of rows 1 and 2.
    assert rows.starts.int().tolist() == [[1, 0, 0, 1], [1, 0, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0]]
    batch = make_batch(rows.select(torch.tensor([0, 2])))
    assert batch.input_ids.tolist() == [[1, 2, 3, 4], [9, 10, 11, 12]]
    assert batch.cu_seqlens.tolist() == [0, 3, 4, 6, 8] and batch.cu_seqlens.dtype == torch.int32
    assert batch.num_targets == 8 - 4


def test_packing_needs_two_rows():
    with pytest.raises(ValueError, match="fewer than two rows"):
        pack_documents([[1, 2, 3]], seq_len=4)


def test_held_out_rows_are_spread_and_disjoint():
    rows = pack_documents([list(range(200))], seq_len=2)  # 100 rows
    train, held_out = split_held_out(rows, 0.1)
    assert (len(train), len(held_out)) == (90, 10)
    held = set(held_out.tokens[:, 0].tolist())
    assert not held & set(train.tokens[:, 0].tolist())
    assert max(held) > 150 and min(held) < 50


def test_ranks_and_micro_batches_partition_the_single_process_batch():
    rows = pack_documents([list(range(4 * 50))], seq_len=4)
    single = BatchSchedule(rows, batch_size=4, grad_accum=1, world_size=1, seed=3)
    split = BatchSchedule(rows, batch_size=1, grad_accum=2, world_size=2, seed=3)
    for step in (0, 1, 12, 13):  # 50 rows, 4 per step: step 12 spans the first epoch's end
        whole = single.batch(step, 0, 0).input_ids
        parts = [split.batch(step, micro, rank).input_ids for rank in range(2) for micro in range(2)]
        assert torch.equal(torch.cat(parts), whole)
    epoch0 = torch.cat([single.batch(step, 0, 0).input_ids for step in range(12)])
    assert len(set(epoch0[:, 0].tolist())) == 48  # no row twice within an epoch
    reseeded = BatchSchedule(rows, 4, 1, 1, seed=4)
    assert not torch.equal(single.batch(0, 0, 0).input_ids, reseeded.batch(0, 0, 0).input_ids)


def test_sources_read_text_folders_and_jsonl(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("second")
    (tmp_path / "b" / "1.md").write_text("first")
    (tmp_path / "b" / ".hidden").write_text("skipped")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": "x"}) + "\n\n" + json.dumps({"text": "y", "id": 3}) + "\n")
    assert list(read_documents([str(tmp_path / "b"), str(tmp_path / "c.jsonl")])) == ["first", "second", "x", "y"]
    (tmp_path / "bad.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: .*\"text\""):
        list(read_documents([str(tmp_path / "bad.jsonl")]))
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(read_documents([str(tmp_path / "missing")]))


def test_byte_tokenizer_round_trips_unicode():
    tokenizer = ByteTokenizer()
    text = "def f(x): return 'ünïcode ✓'"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert max(tokenizer.encode(text)) < tokenizer.vocab_size == 256


def test_tokenizer_file_needs_the_package_or_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_tokenizer(str(tmp_path / "missing.json"))
    path = tmp_path / "tok.json"
    path.write_text("{}")
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install tokenizers"):
            load_tokenizer(str(path))


def test_default_corpus_is_deterministic_python_source():
    first, second = default_corpus(200_000), default_corpus(200_000)
    assert first == second and len(first) > 3
    assert sum(map(len, first)) >= 200_000
    assert any("def " in document for document in first)


def test_tokenizers_json_file_when_the_package_is_installed(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["the loop core halts", "the core"],
                                  tokenizers.trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tokenizer.save(str(tmp_path / "tok.json"))
    loaded = load_tokenizer(str(tmp_path / "tok.json"))
    assert loaded.vocab_size == 5
    ids = loaded.encode_batch(["the core halts", "loop"])
    assert [len(row) for row in ids] == [3, 1] and ids[0][0] == loaded.encode("the")[0]
    assert loaded.decode(ids[0]) == "the core halts"
