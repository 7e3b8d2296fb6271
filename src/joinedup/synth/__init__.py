"""The synthetic Integrated Care System: organisations, people, conditions, activity and
choices as FHIR R4, written as NDJSON per resource type or one transaction Bundle per person.

Conventions (code systems, extensions, hierarchy) are in ``docs/synthetic-data.md``.
"""

from joinedup.synth.errors import SynthInputError
from joinedup.synth.generator import SynthOptions, SynthSummary, generate

__all__ = ["SynthInputError", "SynthOptions", "SynthSummary", "generate"]
