# Sentinel-2 read as the false-colour composite B8, B4, B3 (NIR, red, green), the bands of the
# synthetic source rendered with `make_synthetic_dataset.py --spectra sentinel2-nir`.
load_nir_red_green = dict(type='LoadGeoTiff', bands=['B8', 'B4', 'B3'], scale=3000.0, nominal_gsd=10.0)
