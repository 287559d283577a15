"""STAC items of maps and the STAC collection of a run's folder, made with pystac, all offline.

    build_item (the finished map COG and its sidecar record -> pystac.Item: WGS84 footprint, sensing
    datetime or start/end of a composite, projection, raster and classification fields, one asset per
    output, provenance) -> write_item (NAME.stac.json, atomically) -> update_collection (collection.json
    of every item in the folder, rewritten atomically as scenes finish).

Everything is read from the written files and the sidecar, so an item describes what is on disk.
Classification is written at v1.1.0 of the extension (classes with value, name, description and
colour), the version whose schema the tests validate against offline.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
import pystac
import rasterio
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterBand, RasterExtension
from rasterio.warp import transform_geom

from .. import __version__
from ..utils.errors import DaspmInputError
from ..utils.raster import atomic_output, folder_write_problem
from .acquisition import stamp_time

CLASSIFICATION_SCHEMA = 'https://stac-extensions.github.io/classification/v1.1.0/schema.json'
COLLECTION_NAME = 'collection.json'
ITEM_SUFFIX = '.stac.json'
# output name -> (roles, title); rasters get raster:bands from their files
ASSETS = {'map': (['data'], 'land-use classes'),
          'count': (['data'], 'number of clear dates per pixel'),
          'confidence': (['data', 'quality'], 'max softmax probability'),
          'probabilities': (['data'], 'class probabilities'),
          'uncertainty': (['data', 'quality'], 'normalised entropy of the class probabilities'),
          'quicklook': (['thumbnail'], 'quicklook with legend'),
          'sidecar': (['metadata'], 'mapping record (inputs, options, shares, timings)')}
_MEDIA = {'.tif': pystac.MediaType.COG, '.png': pystac.MediaType.PNG, '.json': pystac.MediaType.JSON}


def stac_path(map_path: str | Path) -> Path:
    """The STAC item beside a map: map.tif -> map.stac.json."""
    map_path = Path(map_path)
    return map_path.with_name(map_path.stem + ITEM_SUFFIX)


def check_writable(folder: str | Path) -> None:
    """Refuse ``--stac`` before mapping when the item's folder cannot be created or written."""
    problem = folder_write_problem(folder)
    if problem is not None and problem.not_a_folder:
        raise DaspmInputError(f'--stac: cannot write STAC files into {folder}: {problem.folder} is a file, not a '
                              'folder; choose another --out / --out-dir')
    if problem is not None:
        raise DaspmInputError(f'--stac: cannot write STAC files into {folder} ({problem.reason}); make it writable '
                              'or choose another --out / --out-dir')


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path | None) -> str | None:
    """SHA-256 of a file (cached per path, size and time: a checkpoint is hashed once per run); None if absent."""
    if not path or not Path(path).is_file():
        return None
    stat = Path(path).stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


def _parse_time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def _dates(record: dict) -> list[datetime]:
    """Sensing times of the map's dates (several for a composite).

    A single scene's comes from the stamp in its product or input name (acquisition.stamp_time);
    without one, the time of mapping stands in (``daspm:datetime_source`` says so).
    """
    if record.get('dates'):
        found = [_parse_time(d.get('sensing_time')) for d in record['dates']]
    else:
        names = [(record.get('product') or {}).get('name') or '', *record.get('input', []), record.get('source', '')]
        found = [next((t for t in map(stamp_time, (Path(n).name for n in names)) if t is not None), None)]
    return sorted(d for d in found if d is not None)


def _raster_fields(path: Path) -> tuple[list[RasterBand], list[dict]]:
    """raster:bands (nodata, data type, scale) and STAC 1.1 bands (name, description) of a GeoTIFF."""
    with rasterio.open(path) as src:
        bands = [RasterBand.create(nodata=src.nodata, data_type=src.dtypes[i], scale=src.scales[i],
                                   spatial_resolution=abs(src.transform.a))
                 for i in range(src.count)]
        names = [{'name': src.descriptions[i] or f'band {i + 1}'} for i in range(src.count)]
    return bands, names


def _classes(path: Path) -> list[dict]:
    """classification:classes from the map's tags (CLASS_<id>) and colour table."""
    with rasterio.open(path) as src:
        tags = src.tags()
        colours = src.colormap(1)
    names = sorted(((int(k[len('CLASS_'):]), v) for k, v in tags.items()
                    if k.startswith('CLASS_') and k[len('CLASS_'):].isdigit()))
    return [{'value': value, 'name': name.replace(' ', '_'), 'description': name,
             'color_hint': '{:02X}{:02X}{:02X}'.format(*colours[value][:3])} for value, name in names]


def build_item(map_path: str | Path, record: dict, outputs: dict[str, str | Path],
               collection_id: str | None = None) -> pystac.Item:
    """The STAC item of a finished map: footprint, dates, projection, classes, assets, provenance."""
    map_path = Path(map_path)
    with rasterio.open(map_path) as src:
        left, bottom, right, top = src.bounds
        native = {'type': 'Polygon', 'coordinates': [[(left, bottom), (right, bottom), (right, top), (left, top),
                                                      (left, bottom)]]}
        # densified so that the WGS84 footprint follows the curved edges of a projected tile
        geometry = transform_geom(src.crs, 'EPSG:4326', native, antimeridian_cutting=True, precision=7)
        crs, transform, shape = src.crs, src.transform, (src.height, src.width)
    coords = [xy for ring in geometry['coordinates'] for xy in ring] if geometry['type'] == 'Polygon' else \
        [xy for poly in geometry['coordinates'] for ring in poly for xy in ring]
    bbox = [min(c[0] for c in coords), min(c[1] for c in coords), max(c[0] for c in coords),
            max(c[1] for c in coords)]
    dates = _dates(record)
    sensed = bool(dates)
    dates = dates or [_parse_time(record.get('started')) or datetime.now(timezone.utc)]
    composite = len(record.get('dates', [])) > 1
    properties = {
        'created': record.get('finished') or datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'gsd': abs(transform.a),
        'daspm:version': __version__,
        'daspm:config': record.get('config'), 'daspm:config_sha256': file_sha256(record.get('config')),
        'daspm:checkpoint': record.get('checkpoint'),
        'daspm:checkpoint_sha256': file_sha256(record.get('checkpoint')),
        'daspm:source_products': [d.get('product') or d.get('source') for d in record.get('dates', [])] or
        [(record.get('product') or {}).get('name') or record.get('source')],
        'daspm:valid_share': record.get('valid_share'), 'daspm:masked_share': record.get('masked_share'),
        'daspm:datetime_source': 'sensing' if sensed else 'mapping (no sensing date in the input names)',
    }
    if composite:
        properties['daspm:composite_rule'] = record.get('composite', {}).get('rule')
        properties['daspm:dates'] = record['dates']
    item = pystac.Item(id=map_path.stem, geometry=geometry, bbox=bbox, datetime=None if composite else dates[0],
                       start_datetime=dates[0] if composite else None,
                       end_datetime=dates[-1] if composite else None, properties=properties,
                       collection=collection_id)
    projection = ProjectionExtension.ext(item, add_if_missing=True)
    projection.code = crs.to_string() if crs.to_epsg() is None else f'EPSG:{crs.to_epsg()}'
    projection.shape = list(shape)
    projection.transform = list(transform)[:6]
    projection.bbox = [left, bottom, right, top]
    RasterExtension.add_to(item)
    item.stac_extensions.append(CLASSIFICATION_SCHEMA)
    folder = stac_path(map_path).parent
    for name, path in outputs.items():
        if name not in ASSETS or path is None or not Path(path).exists():
            continue
        path = Path(path)
        roles, title = ASSETS[name]
        asset = pystac.Asset(href=os.path.relpath(path, folder), title=title, roles=roles,
                             media_type=_MEDIA.get(path.suffix.lower()))
        item.add_asset(name, asset)
        if path.suffix.lower() in ('.tif', '.tiff'):
            bands, names = _raster_fields(path)
            RasterExtension.ext(asset).bands = bands
            asset.extra_fields['bands'] = names
        if name == 'map':
            asset.extra_fields['classification:classes'] = _classes(path)
    for source in [d['input'] for d in record.get('dates', [])] or record.get('input', []):
        item.add_link(pystac.Link('derived_from', _href(source, folder), title='input scene'))
    return item


def _href(path: str | Path, folder: Path) -> str:
    """A relative href for a local path (absolute where no relative path exists, e.g. another drive)."""
    try:
        return os.path.relpath(Path(path).resolve(), folder.resolve())
    except ValueError:
        return Path(path).resolve().as_uri()


def write_item(map_path: str | Path, record_path: str | Path, outputs: dict[str, str | Path],
               collection: bool = False) -> Path:
    """Write ``NAME.stac.json`` beside the map (atomically); with ``collection`` it links the folder's collection."""
    map_path = Path(map_path)
    record = json.loads(Path(record_path).read_text(encoding='utf-8'))
    folder = map_path.parent
    item = build_item(map_path, record, outputs, collection_id=collection_id(folder) if collection else None)
    if collection:
        item.add_link(pystac.Link('collection', f'./{COLLECTION_NAME}', media_type=pystac.MediaType.JSON))
        item.add_link(pystac.Link('parent', f'./{COLLECTION_NAME}', media_type=pystac.MediaType.JSON))
    return _write_json(stac_path(map_path), item.to_dict(include_self_link=False, transform_hrefs=False))


def collection_id(folder: Path) -> str:
    """The collection's id: the folder's name."""
    return Path(folder).resolve().name or 'maps'


def update_collection(folder: str | Path) -> Path | None:
    """(Re)write ``collection.json`` linking every item in ``folder``; None when there is none yet.

    Built from the items on disk each time, so a rerun, or another process that finished a scene,
    is included; the file is replaced atomically, so readers never see half of it.
    """
    folder = Path(folder)
    items = [pystac.Item.from_file(str(p)) for p in sorted(folder.glob('*' + ITEM_SUFFIX))]
    if not items:
        return None
    spans = [(i.datetime or i.common_metadata.start_datetime, i.datetime or i.common_metadata.end_datetime)
             for i in items]
    bbox = [min(i.bbox[0] for i in items), min(i.bbox[1] for i in items), max(i.bbox[2] for i in items),
            max(i.bbox[3] for i in items)]
    collection = pystac.Collection(
        id=collection_id(folder), description=f'Land-use maps made by daspm-map {__version__}',
        extent=pystac.Extent(pystac.SpatialExtent([bbox]),
                             pystac.TemporalExtent([[min(s for s, _ in spans), max(e for _, e in spans)]])),
        license='other', title=f'daspm maps in {collection_id(folder)}')
    for item, path in zip(items, sorted(folder.glob('*' + ITEM_SUFFIX))):
        collection.add_link(pystac.Link('item', f'./{path.name}', media_type=pystac.MediaType.GEOJSON,
                                        title=item.id))
    return _write_json(folder / COLLECTION_NAME, collection.to_dict(include_self_link=False, transform_hrefs=False))


def _write_json(path: Path, document: dict) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, default=str) + '\n', encoding='utf-8')
    return path


def write_stac(map_path: str | Path, outputs: dict[str, str | Path], in_collection: bool = False) -> list[Path]:
    """The item of a finished map (``outputs`` holds its sidecar) and, ``in_collection``, the updated collection."""
    written = [write_item(map_path, outputs['sidecar'], outputs, collection=in_collection)]
    if in_collection:
        written.append(update_collection(Path(map_path).parent))
    return written

