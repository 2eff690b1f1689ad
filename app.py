"""Minimal entry point: the built-in digits dataset, shown as a grid. The dashboard replaces it."""

import numpy as np
import streamlit as st

from core.data import load_image_set

st.set_page_config(page_title="Latent explorer", layout="wide")
st.title("Latent explorer")


@st.cache_data
def sample_digits(n_images: int = 60):
    digits = load_image_set("digits")
    return digits.images[:n_images, ..., 0], digits.labels[:n_images], len(digits), digits.image_shape


images, labels, n_total, shape = sample_digits()
st.write(f"Built-in digits: {n_total} images of {shape[0]}x{shape[1]} pixels, labels 0-9.")
st.image([np.kron(image, np.ones((6, 6))) for image in images], caption=[str(v) for v in labels], width=48)
