"""Nova's vocabulary and rules, pure: states, the API status they show, which action is allowed
from which state and what it passes through, faults, and the plan that moves a Server toward
the state its spec declares. Every rule is data in one place and is unit-tested exhaustively.
"""
