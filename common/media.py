"""File types both programs read: a dataset's images (trainer) and a folder or file of photos (edge)."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
