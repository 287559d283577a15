"""Validate STAC items and collections offline against the schemas in fixtures/stac_schemas (see its NOTICE).

A referencing registry holds every shipped schema under its official URL; a reference to anything
else fails instead of being fetched, so a test never goes to the network.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parent / 'fixtures' / 'stac_schemas'
CORE = 'https://schemas.stacspec.org/v1.1.0'
# the core files' folders on schemas.stacspec.org (the copies lie flat in stac-spec-v1.1.0/)
_CORE_FOLDER = {'catalog.json': 'catalog-spec', 'collection.json': 'collection-spec'}


@lru_cache(maxsize=1)
def registry() -> Registry:
    """All shipped schemas, each under its $id and, for the core files, its canonical URL."""
    resources = []
    for path in sorted(SCHEMAS.rglob('*.json')):
        contents = json.loads(path.read_text(encoding='utf-8'))
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        uris = {contents['$id'].rstrip('#')}
        if path.parent.name == 'stac-spec-v1.1.0':
            # one shipped $id is misspelt ('commonjson'): the references use the file's real URL
            uris.add(f'{CORE}/{_CORE_FOLDER.get(path.name, "item-spec")}/json-schema/{path.name}')
        resources += [(uri, resource) for uri in uris]
    return Registry().with_resources(resources)


def _check(schema_uri: str, document: dict) -> list[str]:
    schema = registry().contents(schema_uri)
    validator = Draft7Validator(schema, registry=registry())
    return [f'{schema_uri}: {"/".join(map(str, e.absolute_path))}: {e.message}'
            for e in validator.iter_errors(document)]


def stac_errors(document: dict) -> list[str]:
    """Schema violations of an item or collection: the core schema and every extension it declares."""
    kind = {'Feature': 'item-spec/json-schema/item.json',
            'Collection': 'collection-spec/json-schema/collection.json'}[document['type']]
    errors = _check(f'{CORE}/{kind}', document)
    for extension in document.get('stac_extensions', []):
        errors += _check(extension.rstrip('#'), document)
    return errors
