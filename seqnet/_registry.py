"""Name, instance and config lookup shared by ``losses.get`` and ``optim.get``.

A ``Registry`` maps names to classes that have a class attribute ``name`` and a
``get_config()`` returning ``{"name": ..., **constructor arguments}``. Its errors
name the argument at fault and list the known names, so that ``losses`` and
``optim`` fail the same way.
"""

from __future__ import annotations


def _a(word):
    """``word`` with its indefinite article: "a loss", "an optimizer"."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


class Registry:
    """The classes of one kind (losses, optimizers), looked up by name or config.

    Parameters
    ----------
    kind : str
        What the classes are, for messages: ``"loss"``, ``"optimizer"``.
    base : type
        Their base class; ``get`` returns an instance of it unchanged.
    classes : dict of str to type
        The canonical names and their classes.
    aliases : dict of str to str, optional
        Other accepted names and the canonical names they stand for.
    any_case : bool, default False
        Look names up in lowercase (the canonical names are lowercase).
    config_type : type or tuple of types, default dict
        What ``get`` and ``from_config`` accept as a config.
    """

    def __init__(self, kind, base, classes, aliases=None, *, any_case=False,
                 config_type=dict):
        self.kind = kind
        self.base = base
        self.classes = dict(classes)
        self.aliases = dict(aliases or {})
        self.any_case = any_case
        self.config_type = config_type
        #: every name ``lookup`` knows, for messages: canonical names, then aliases.
        self.names = sorted(self.classes) + sorted(self.aliases)

    def lookup(self, name, argname):
        """The class called ``name``; errors name the argument ``argname``."""
        if not isinstance(name, str):
            raise TypeError(f"{argname} must be a string, got {type(name).__name__}")
        key = name.lower() if self.any_case else name
        cls = self.classes.get(self.aliases.get(key, key))
        if cls is None:
            raise ValueError(f"unknown {self.kind} {name!r}: {argname} must be one of "
                             f"{self.names}" + (" (any case)" if self.any_case else ""))
        return cls

    def get(self, identifier):
        """An instance of ``base`` as is, a name's class with its defaults, or a config's."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.lookup(identifier, "identifier")()
        if isinstance(identifier, self.config_type):
            return self.from_config(identifier)
        raise TypeError(f"identifier must be {_a(self.base.__name__)}, {_a(self.kind)} name "
                        f"or a config dict, got {type(identifier).__name__}")

    def from_config(self, config):
        """An instance from ``{"name": <name>, **arguments}``; unknown arguments refused."""
        if not isinstance(config, self.config_type):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if "name" not in config:
            raise ValueError(f"config must have a 'name' entry (one of {self.names}), "
                             f"got keys {sorted(config)}")
        cls = self.lookup(config["name"], "config['name']")
        kwargs = {k: v for k, v in config.items() if k != "name"}
        allowed = set(cls().get_config()) - {"name"}
        extra = sorted(set(kwargs) - allowed)
        if extra:
            raise ValueError(f"config has unexpected entries {extra} for {cls.name!r}; "
                             f"expected {sorted(allowed)}")
        return cls(**kwargs)
