"""Requests to the answer workers: only the bots' signature opens them."""

from __future__ import annotations

import pytest

from indexing import (
    AnswerRequest,
    Audience,
    Principal,
    RequestRefused,
    Turn,
    sign_request,
    verify_request,
)

KEY = b"bots-and-workers-only"
HR = Audience.of([Principal.of("alice@example.com", ["hr"])])
REQUEST = AnswerRequest("salary bands?", HR, [Turn("user", "hi")])


def test_a_signed_request_comes_back_as_it_was_sent():
    assert verify_request(KEY, sign_request(KEY, REQUEST, now=1000.0), now=1010.0) == REQUEST


def test_a_changed_audience_a_wrong_key_or_an_old_request_is_refused():
    signed = sign_request(KEY, REQUEST, now=1000.0)
    widened = {**signed, "audience": Audience.of([Principal.of("x", ["hr", "exec"])]).to_dict()}
    with pytest.raises(RequestRefused, match="not signed"):
        verify_request(KEY, widened, now=1000.0)
    with pytest.raises(RequestRefused, match="not signed"):
        verify_request(KEY, sign_request(b"guess", REQUEST, now=1000.0), now=1000.0)
    with pytest.raises(RequestRefused, match="old"):
        verify_request(KEY, signed, now=5000.0)
    with pytest.raises(RequestRefused, match="not set"):
        verify_request(b"", signed, now=1000.0)


def test_the_asker_in_a_channel_is_signed_too():
    channel = Audience.of([Principal.of("alice@example.com", ["hr"]), Principal.of("bob@x")])
    asked = AnswerRequest("salary bands?", channel, [], asker=HR)
    signed = sign_request(KEY, asked, now=1000.0)
    assert verify_request(KEY, signed, now=1000.0) == asked
    anyone = {**signed, "asker": Audience.of([Principal.of("x", ["exec"])]).to_dict()}
    with pytest.raises(RequestRefused, match="not signed"):
        verify_request(KEY, anyone, now=1000.0)
