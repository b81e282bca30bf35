"""The one graph walk fastnn needs twice: a functional model's layer calls and the autodiff tape."""

from __future__ import annotations


def post_order(roots, inputs_of):
    """Every node reachable from ``roots`` through ``inputs_of(node)``, each after its inputs: a
    topological order (an iterative depth-first walk, so deep graphs need no recursion; roots
    and inputs are visited in their order)."""
    order, seen, stack = [], set(), [(node, False) for node in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((t, False) for t in reversed(inputs_of(node)) if id(t) not in seen)
    return order
