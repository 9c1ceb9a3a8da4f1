"""TextParams: the API reference's defaults, parsing of ModalityConfiguration, and clear errors."""

from __future__ import annotations

import pytest

from modalax import ConfigError, ModalityConfiguration
from modalax_text import TextParams, text_config, text_params_from


def test_defaults_are_the_seed_table():
    p = TextParams()
    assert (p.vocab_size, p.max_length, p.pad_token_id, p.unk_token_id, p.bos_token_id, p.eos_token_id) == (
        10000,
        512,
        0,
        1,
        2,
        3,
    )
    assert p.case_sensitive is False
    assert p.special_ids == {"pad_token_id": 0, "unk_token_id": 1, "bos_token_id": 2, "eos_token_id": 3}


def test_parsed_from_the_seed_configuration():
    cfg = ModalityConfiguration(
        name="text",
        modality_type="text",
        metadata={
            "text_params": {
                "vocab_size": 50000,
                "max_length": 1024,
                "pad_token_id": 0,
                "unk_token_id": 1,
                "bos_token_id": 2,
                "eos_token_id": 3,
                "case_sensitive": True,
            }
        },
    )
    p = text_params_from(cfg)
    assert p == TextParams(vocab_size=50000, max_length=1024, case_sensitive=True)
    # absent text_params, None and a plain dict
    assert text_params_from(ModalityConfiguration(name="text", modality_type="text")) == TextParams()
    assert text_params_from(None) == TextParams()
    assert text_params_from({"max_length": 16}).max_length == 16
    assert TextParams.from_dict(p.to_dict()) == p
    assert text_params_from(text_config(max_length=8)).max_length == 8


def test_colliding_special_ids_name_both_fields():
    with pytest.raises(ConfigError, match=r"TextParams\.eos_token_id: got 2, which collides with bos_token_id=2"):
        TextParams(eos_token_id=2)
    with pytest.raises(ConfigError, match=r"unk_token_id: got 0, which collides with pad_token_id=0"):
        text_params_from({"unk_token_id": 0})


def test_vocab_size_must_exceed_the_special_tokens():
    with pytest.raises(
        ConfigError,
        match=r"TextParams\.vocab_size: got 3, expected more than the largest special "
        r"token id \(eos_token_id=3\)",
    ):
        TextParams(vocab_size=3)
    with pytest.raises(ConfigError, match=r"vocab_size: got 4, expected more than the 4 special tokens"):
        TextParams(vocab_size=4)
    with pytest.raises(
        ConfigError,
        match=r"vocab_size: got 100, expected more than the largest special token id "
        r"\(pad_token_id=500\)",
    ):
        TextParams(vocab_size=100, pad_token_id=500)


def test_unknown_keys_and_bad_values_are_named():
    cfg = ModalityConfiguration(name="text", modality_type="text", metadata={"text_params": {"vocab_sise": 10}})
    with pytest.raises(ConfigError, match=r"TextParams: unknown field\(s\) 'vocab_sise'"):
        text_params_from(cfg)
    with pytest.raises(ConfigError, match=r"TextParams\.max_length: got 1, expected at least 2"):
        TextParams(max_length=1)
    with pytest.raises(ConfigError, match=r"TextParams\.pad_token_id: got -1"):
        TextParams(pad_token_id=-1)
    with pytest.raises(ConfigError, match=r"TextParams\.case_sensitive: got 'yes' \(str\), expected a bool"):
        TextParams(case_sensitive="yes")
    with pytest.raises(ConfigError, match=r"metadata\['text_params'\]: got list, expected a dict"):
        text_params_from(ModalityConfiguration(name="text", metadata={"text_params": [1]}))
    with pytest.raises(ConfigError, match=r"config: got int, expected a ModalityConfiguration"):
        text_params_from(3)
    assert isinstance(ConfigError("x"), ValueError)
