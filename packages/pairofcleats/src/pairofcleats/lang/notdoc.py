"""Comments that are no documentation: tool annotations and banners (§4 ``doc``).

``/*@__NO_SIDE_EFFECTS__*/`` above a function, ``// eslint-disable-next-line`` or ``//
@ts-ignore`` above a statement, ``//////// ZodBase64 ////////`` or ``// -----`` above a
section were a definition's ``doc``, so its headline read ``@__NO_SIDE_EFFECTS__``. The
texts here are comments with their markers removed (``_clean_comment``).
"""

from __future__ import annotations

import re

#: Directives for a bundler, type checker, linter, formatter or coverage tool, as the
#: whole (one-line) comment: ``@__PURE__``, ``#__PURE__``, ``@ts-expect-error reason``,
#: ``eslint-disable-next-line no-console``, ``prettier-ignore``, ``istanbul ignore next``,
#: ``go:generate …``, ``type: ignore``, ``noqa: E501``, ``rubocop:disable …``. ESLint's
#: ``global``/``exported`` lists count only with a ``:`` or ``,`` (``global $, jQuery``,
#: ``global window: true``): the markers are gone here, so ``// global cache`` is prose.
_ANNOTATION = re.compile(
    r"""^(?:
        [@#]__[A-Za-z_]+__
      | @ts-(?:ignore|expect-error|nocheck|check)\b
      | (?:eslint|jshint|jscs)-(?:disable|enable)(?:-next-line|-line)?\b
      | (?:eslint|jshint|jslint)\s+[\w@/-]+\s*:\s*\S | eslint-env\s
      | (?:globals?|exported)\s+[\w$]+(?:\s*:\s*\w+(?:\s*,\s*[\w$]+(?:\s*:\s*\w+)?)*
                                      |(?:\s*,\s*[\w$]+(?:\s*:\s*\w+)?)+)$
      | tslint:\S | prettier-ignore\b | biome-ignore\b | deno-(?:lint|fmt)-ignore
      | dprint-ignore\b | istanbul\s+ignore\b
      | (?:c8|v8|node:coverage)\s+(?:ignore|disable|enable)\b
      | @vite-ignore\b | webpack[A-Z]\w*\s*: | @jsx(?:ImportSource|Runtime|Frag)?\s | @flow\b
      | noinspection\s | \#(?:end)?region\b | (?:end)?region$ | endregion\b | cspell:\S
      | go:\w+ | \+build\s | nolint\b | NOLINT(?:NEXTLINE)?\b | clang-format\s+(?:on|off)\b
      | type:\s*ignore\b | noqa\b | pylint:\s | pyright:\s | mypy:\s | fmt:\s*(?:off|on|skip)\b
      | isort:\s | pragma:\s | rubocop:\s*(?:disable|enable|todo)\b
      | frozen_string_literal:\s | (?:-\*-\s*)?(?:en)?coding[:=]
      | shellcheck\s+(?:disable|enable|source|shell)=
      | (?:swiftlint|swiftformat):\S | ktlint-(?:disable|enable)\b | @formatter:(?:off|on)\b
      | phpcs:\S | @phpstan-(?:ignore|ignore-next-line)\b | @psalm-suppress\s | NOSONAR\b
    )""",
    re.VERBOSE,
)
#: A banner or rule line: a run of one punctuation mark (``////////``, ``-----``,
#: ``=====``), optionally around a title and a closing run (``//// ZodBase64 ////``); a
#: Swift/Xcode ``MARK: - Networking`` section title.
_BANNER = re.compile(r"([^\w\s])\1{2,}(?:\s*(?:.*?\S)?\s*([^\w\s])\2{2,})?|MARK:\s.*")
_ALNUM = re.compile(r"[^\W_]")


def is_annotation(text: str) -> bool:
    """A one-line comment that is a tool directive, not prose."""
    return "\n" not in text and _ANNOTATION.match(text.strip()) is not None


def is_banner(text: str) -> bool:
    """A comment made only of banner/rule lines (or of no letter or digit at all): its
    words may be a section title, but not a definition's documentation."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return True
    if not any(_ALNUM.search(line) for line in lines):
        return True
    return all(_BANNER.fullmatch(line) is not None for line in lines)


def not_doc(text: str) -> bool:
    """An annotation or a banner: no definition's ``doc``."""
    return is_annotation(text) or is_banner(text)
