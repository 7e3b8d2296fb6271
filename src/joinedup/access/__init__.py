"""Who may see what: tokens, SMART scopes, the access policy, consent, break-glass, audit.

Every request passes through :mod:`joinedup.access.middleware`; every allow/deny decision is
made in :mod:`joinedup.access.policy`, which hands the store a SQL restriction so that the
policy is part of each query rather than a filter on its results.
"""
