"""The pure decision core: (recipient state, message facts, policy, clock) -> Decision.

No I/O here; a test walks the imports to keep it that way.
"""

from .chain import CHAIN, Rule, evaluate

__all__ = ["CHAIN", "Rule", "evaluate"]
