"""Streamlit building blocks shared by the pages: sidebar, state, figures and galleries."""
