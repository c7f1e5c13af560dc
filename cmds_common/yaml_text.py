"""Read the project's YAML files so that words stay words.

PyYAML follows YAML 1.1, where an unquoted ``yes``, ``no``, ``on``, ``off``, ``y`` or ``n`` is a
boolean: ``reference_levels: {local_medical_insurance: yes}`` would reach the code as ``True``.
Every YAML file the project reads (model specs, codebooks, synthetic parameters) goes through
:func:`load_yaml`, which keeps YAML 1.2's booleans only (``true``/``false`` in any case), so the
word the user wrote comes back as that word. Where a key really is a yes/no setting,
:func:`as_bool` accepts both spellings.
"""

from __future__ import annotations

import re

import yaml

__all__ = ["YAML12BoolLoader", "as_bool", "load_yaml"]


class YAML12BoolLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose booleans are YAML 1.2's: only ``true`` and ``false``."""


YAML12BoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YAML12BoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_TRUE_WORDS = {"true", "yes", "on", "y"}
_FALSE_WORDS = {"false", "no", "off", "n"}


def load_yaml(text: str) -> object:
    """Parse YAML text, reading ``yes``/``no``/``on``/``off`` as the words written.

    Parameters
    ----------
    text
        The YAML document.

    Returns
    -------
    object
        What :func:`yaml.safe_load` returns, except that only ``true``/``false`` are booleans.
    """
    return yaml.load(text, Loader=YAML12BoolLoader)


def as_bool(value: object, key: str, source: str) -> bool:
    """Read a yes/no setting written as ``true``/``false`` or ``yes``/``no``/``on``/``off``.

    Raises
    ------
    ValueError
        Naming ``key``, ``source`` and the words accepted.
    """
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"{source}: {key} must be true or false (or yes/no), got {value!r}")
