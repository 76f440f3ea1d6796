"""Who takes part in the tour and what they ask: teams, users and their questions.

Each member gets a virtual key of the gateway with their user, team and agent, so every
record, cost and budget in the dashboard is broken down the way a real deployment's would be.
The questions are fixed text: some are popular (asked again and again, which is what the
response cache is for), some are long pastes (which the model router keeps on the
capable model), some are short (which it sends to the cheap one).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Member:
    """One user of the gateway: their key's user, team and agent (the application that
    calls for them), and what they do in the tour."""

    user: str
    team: str
    does: str
    agent: str


SEARCH_ANA = Member("ana", "search", "chat on fast, smart and auto; streams", "search-assistant")
SEARCH_BEN = Member("ben", "search", "chat on fast and auto", "search-assistant")
MOBILE_FAY = Member("fay", "mobile", "short questions on auto, streamed", "mobile-app")
SUPPORT_CHEN = Member(
    "chen", "support", "support replies under the prompt experiment", "support-replies"
)
DOCS_GIL = Member("gil", "docs", "questions over the project's docs (RAG)", "docs-qa")
RESEARCH_DEV = Member(
    "dev", "research", "analysis on smart, against a daily budget", "research-analyst"
)

CAST: tuple[Member, ...] = (
    SEARCH_ANA,
    SEARCH_BEN,
    MOBILE_FAY,
    SUPPORT_CHEN,
    DOCS_GIL,
    RESEARCH_DEV,
)
CHAT_USERS: tuple[Member, ...] = (SEARCH_ANA, SEARCH_BEN, MOBILE_FAY)

POPULAR_QUESTIONS: tuple[str, ...] = (
    "What is the capital of France?",
    "Give me three tips for writing clear commit messages.",
    "What is the difference between a process and a thread?",
    "How do I reverse a list in Python?",
    "Explain what an HTTP 429 status code means.",
    "What does idempotent mean for an API?",
    "Summarise the CAP theorem in two sentences.",
    "What is a vector database used for?",
)
"""Asked over and over by different users: after the first answer, the cache serves them."""

SHORT_QUESTIONS: tuple[str, ...] = (
    "Translate 'good morning' into Spanish.",
    "Is 2027 a leap year?",
    "What port does HTTPS use by default?",
    "Name a sorting algorithm that is stable.",
    "What does JSON stand for?",
    "Convert 100 Fahrenheit to Celsius.",
    "What is the plural of 'index'?",
    "Which HTTP method is used to update part of a resource?",
    "What is a UUID?",
    "Give a synonym for 'rapid'.",
    "What year did Python 3.0 come out?",
    "What does SQL stand for?",
)
"""Short one-off questions: the router sends those that ask for `auto` to the cheap model."""

PASTE_PROMPTS: tuple[str, ...] = (
    "Review this incident report and list the root causes and the follow-ups:\n\n{text}",
    "Here is part of our design notes. Point out risks and open questions:\n\n{text}",
    "Rewrite this section for a new engineer, keeping every technical detail:\n\n{text}",
)
"""Longer pastes (a section of the docs is pasted in): the router keeps them on `capable`."""

DOC_QUESTIONS: tuple[str, ...] = (
    "How does a budget downgrade calls to a cheaper model?",
    "What happens when a circuit breaker opens?",
    "How are virtual keys stored by the gateway?",
    "Which vector stores can the retriever use?",
    "How does the response cache handle streams?",
    "What does the A/B tester do about peeking?",
    "How are latency percentiles computed by the monitor?",
    "What is the sequential mode of an experiment for?",
    "How does the model router decide that a task is simple?",
    "What does the dashboard show about budgets?",
)
"""The docs team's questions, answered from `docs/*.md` (retrieved, then asked)."""

RESEARCH_TOPICS: tuple[str, ...] = (
    "the trade-offs of caching LLM answers",
    "when to fall back to a second provider",
    "how token prices changed over the last two years",
    "choosing between streaming and batch answers",
    "how to measure answer quality in production",
    "budgeting LLM spend per team",
    "the risks of routing to cheaper models",
    "latency targets for chat products",
)

TICKET_ISSUES: tuple[str, ...] = (
    "cannot log in after resetting the password",
    "was charged twice for the March invoice",
    "export to CSV stops at 10,000 rows",
    "the mobile app crashes when opening settings",
    "webhook deliveries arrive out of order",
    "two-factor codes arrive after they expire",
    "search results miss documents added today",
    "the API returns 429 although the dashboard shows spare quota",
)

__all__ = [
    "CAST",
    "CHAT_USERS",
    "DOCS_GIL",
    "DOC_QUESTIONS",
    "MOBILE_FAY",
    "PASTE_PROMPTS",
    "POPULAR_QUESTIONS",
    "RESEARCH_DEV",
    "RESEARCH_TOPICS",
    "SEARCH_ANA",
    "SEARCH_BEN",
    "SHORT_QUESTIONS",
    "SUPPORT_CHEN",
    "TICKET_ISSUES",
    "Member",
]
