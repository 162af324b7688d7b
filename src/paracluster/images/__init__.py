"""Images: AWSTOE component documents (loader, node-side runner) and the local stand-in for Image Builder components.

Modules here that run on nodes (runner, templating, conditions, the action modules) use only the standard library;
this package's __init__ imports nothing, so nodes can import them without PyYAML.
"""
