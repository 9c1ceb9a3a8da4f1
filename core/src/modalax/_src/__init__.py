"""modalax's implementation: private by name.

Nothing here is a stable API. Users import from ``modalax``; plugin authors from
``modalax.plugin`` (versioned) and ``modalax.testing``. Names may move between these modules
in any release.
"""
