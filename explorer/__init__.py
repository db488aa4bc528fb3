"""The Gradio layer of SC-LoRA Explorer: one module per tab, session state, no math.

Layers, each importing only those below it: ``app`` (the Blocks) and ``prepare`` -> ``tabs/*`` -> ``shared``
(results the room shares) -> ``engine`` (models and heavy work) -> the ``sclora`` library. The Blocks are
built by :func:`explorer.app.build_app`.
"""
