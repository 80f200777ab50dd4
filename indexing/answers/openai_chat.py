"""Answers from any OpenAI-compatible chat server (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp).

The key travels in the client only: errors report the server and the HTTP status, never the
request.
"""

from __future__ import annotations

from ..embedding.embedder import EmbeddedQuery
from ..errors import GenerationError, ServiceUnavailable
from ..store.chunk import Hit
from .generator import NO_ANSWER, REWRITE_PROMPT, SYSTEM_PROMPT, numbered_sources


class ChatGenerator:
    """Any OpenAI-compatible chat-completions server."""

    def __init__(self, client, model: str, name: str = "openai") -> None:
        self.client = client
        self.model = model
        self.name = f"{name}:{model}"

    def generate(
        self, question: str, passages: list[Hit], query: EmbeddedQuery | None = None
    ) -> str:
        import openai

        try:
            response = self._complete(question, passages)
        except openai.APIConnectionError as err:
            raise ServiceUnavailable(
                "LLM server", str(self.client.base_url), "Check KNOWHERE_LLM_BASE_URL."
            ) from err
        except openai.APIStatusError as err:
            # Only the status is reported: never the request, which carries the key.
            raise GenerationError(
                f"LLM server {self.client.base_url} answered HTTP {err.status_code}"
                + (" (check KNOWHERE_LLM_API_KEY)" if err.status_code in (401, 403) else "")
            ) from err
        return (response.choices[0].message.content or "").strip() or NO_ANSWER

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up rewritten into a standalone query by the LLM (`history`: (role, text))."""
        import openai

        conversation = "\n".join(f"{role}: {text}" for role, text in history[-6:])
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                temperature=0.0,
                max_tokens=80,
                messages=[
                    {"role": "system", "content": REWRITE_PROMPT},
                    {"role": "user", "content": f"{conversation}\nuser: {question}"},
                ],
            )
        except openai.OpenAIError:
            return ""  # the caller falls back to its own rewrite
        lines = (response.choices[0].message.content or "").strip().splitlines()
        return lines[0].strip() if lines else ""

    def _complete(self, question: str, passages: list[Hit]):
        return self.client.chat.completions.create(
            model=self.model,
            temperature=0.1,
            max_tokens=350,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Sources:\n\n{numbered_sources(passages)}\n\nQuestion: {question}",
                },
            ],
        )
