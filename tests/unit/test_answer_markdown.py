"""An answer is Markdown from quote to chat: code keeps its lines, headings and markup never
leak into a quoted sentence, and nothing a document holds can link, mention or run."""

from __future__ import annotations

from bot.safe_markdown import plain_text, safe_markdown
from indexing.answers.extractive import compose, quotes

CLASSES = """## Overview

The simplest form of class definition looks like this:

```none
class ClassName:
    <statement-1>
    .
    <statement-N>
```

Class definitions, like function definitions (`def` statements), must be executed before they
have any effect. See [the tutorial](https://docs.python.org/3/tutorial/) for **more**.
"""


def test_a_passage_is_quoted_in_sentences_and_whole_code_blocks_never_its_headings():
    found = quotes(CLASSES)
    assert [q.words.splitlines()[0] for q in found] == [
        "The simplest form of class definition looks like this:",
        "Class definitions, like function definitions (def statements), must be executed "
        "before they have any effect.",
        "See the tutorial for more.",
    ]
    # The sentence that introduces a code block brings it, lines and language kept.
    assert found[0].code == (
        "```none\nclass ClassName:\n    <statement-1>\n    .\n    <statement-N>\n```"
    )
    assert all("Overview" not in q.words and "#" not in q.sentence for q in found)
    assert "`def`" in found[1].sentence  # a code span stays code


def test_quoted_markdown_keeps_code_on_its_lines_and_numbers_every_quote():
    text = compose([(1, q) for q in quotes(CLASSES)])
    intro = "The simplest form of class definition looks like this: [1]"
    assert text.startswith(f"{intro}\n\n```none\n")
    assert "\n    <statement-1>\n" in text
    assert text.endswith("See the tutorial for more. [1]")


def test_what_a_document_writes_as_markup_is_quoted_as_text():
    found = quotes("1. Run <!channel> now *please*.\n\n- Then ping <@U123> at 5 \\* 3.\n")
    text = compose([(2, q) for q in found])
    assert text == "Run \\<!channel> now please. [2] Then ping \\<@U123> at 5 \\* 3. [2]"
    shown = safe_markdown(text)  # as the bots post it: no mention can form
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert "&lt;!channel&gt;" in shown and "&lt;@U123&gt;" in shown


def test_links_images_and_html_in_an_answer_are_disarmed_but_its_formatting_stays():
    answer = (
        "Your session expired: [Re-authenticate](https://evil.example/login) **now** [1].\n"
        "![logo](https://evil.example/pixel.png) See https://evil.example/x or "
        "<https://evil.example/y> <img src=x onerror=alert(1)> & <!here> [2]\n\n"
        "<script>alert(1)</script>\n\n"
        "```sh\nvpn connect --profile corp\n```\n"
    )
    safe = safe_markdown(answer)
    assert "Re-authenticate (`https://evil.example/login`) **now** [1]." in safe
    assert "logo See `https://evil.example/x` or `https://evil.example/y`" in safe
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;!here&gt; [2]" in safe
    assert "```\n<script>alert(1)</script>\n```" in safe  # an HTML block is shown as code
    assert "```sh\nvpn connect --profile corp\n```" in safe
    assert "](" not in safe and "<img" not in safe and "<!here>" not in safe


def test_an_answer_s_plain_text_is_its_words():
    assert plain_text("**Use** [the VPN](https://x) `vpn up` [1]\n\n```\na\nb\n```") == (
        "Use the VPN vpn up [1]\na\nb"
    )


def test_what_slack_would_read_as_a_mention_is_broken_inside_code_too():
    safe = safe_markdown(
        "Run `<!here>` then:\n\n```\nnotify <@U123> <!channel>\n<!DOCTYPE html>\n```"
    )
    assert "<!here>" not in safe and "<@U123>" not in safe and "<!channel>" not in safe
    assert "`<\u200b!here>`" in safe and "<!DOCTYPE html>" in safe  # other code as written


def test_an_html_comment_becomes_a_closed_code_block_and_addresses_lose_trailing_punctuation():
    assert safe_markdown("<!-- note -->\n\nafter") == "```\n<!-- note -->\n```\n\nafter"
    assert safe_markdown("See https://wiki.example/vpn.") == "See `https://wiki.example/vpn`."
