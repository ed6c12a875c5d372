"""Parsers: pure functions that turn a collector's raw output into facts. They never touch transports."""

from auditor.parsers.registry import CollectorOutput, ParseError, get_parser, known_parsers, register_parser

__all__ = ["CollectorOutput", "ParseError", "get_parser", "known_parsers", "register_parser"]
