"""Instruction-response pairs grounded in the signal: facts, templates, checker, teachers."""
