"""Simulated hosts for the lab: Windows developer machines (WinRS) and Linux edge nodes (SSH).

Each model keeps its host's state in plain, mutable attributes (``WindowsState``, ``EdgeState``) and
answers the shipped collectors from it, recognised by their text.
"""

from auditor.lab.models.edge import EdgeContainer, EdgeHostModel, EdgeState
from auditor.lab.models.windows import MirroredWindowsModel
from auditor.lab.models.windows_state import Container, DockerDesktop, Listener, UserProfile, WindowsState

__all__ = ["Container", "DockerDesktop", "EdgeContainer", "EdgeHostModel", "EdgeState", "Listener",
           "MirroredWindowsModel", "UserProfile", "WindowsState"]
