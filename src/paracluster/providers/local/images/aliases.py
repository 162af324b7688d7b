"""Image aliases: AMI ids of a real account that a local image answers to, so a config written there runs unchanged.

A config built for an AWS account names the AMIs built there (`Image/CustomAmi: ami-0123...`, an image config's
`Build/ParentImage`); `paracluster image alias AMI_ID IMAGE_ID` lets a built local image answer to such an id wherever
the local provider resolves one (images/store.py `resolve`). The aliases live in `<state_dir>/images/aliases.json`
({alias: image id}); this module holds the rules an alias must meet, as a pure function.
"""

from __future__ import annotations

import re

from paracluster.config.schema.common import AMI_ID
from paracluster.errors import BadRequestError, ConflictError, NotFoundError

_AMI_ID = re.compile(AMI_ID)


def check_alias(alias: str, image_id: str, record, aliases: dict[str, str], own_ids: dict[str, str]) -> None:
    """Refuse, with one sentence, an alias `alias` -> image `image_id` whose record is `record` (None: no such image).

    `aliases` are the existing ones ({alias: image id}); `own_ids` maps every official and local image's own AMI id to
    what it is (an image id, or "official image <os>"), since an alias may not shadow one.
    """
    if not _AMI_ID.match(alias):
        raise BadRequestError(f"AMI_ID '{alias}' is not an AMI id; give the id the config names, `ami-` followed by "
                              "8 or 17 lowercase letters or digits")
    if alias in own_ids:
        raise ConflictError(f"AMI_ID {alias} is the own id of {own_ids[alias]}; an alias may not shadow an image's "
                            "id, so a config can name that image directly")
    if record is None:
        raise NotFoundError(f"IMAGE_ID '{image_id}' does not exist; see `paracluster list-images --image-status "
                            "AVAILABLE`")
    if not record.available:
        raise ConflictError(f"IMAGE_ID '{image_id}' is {record.build_status}; only an AVAILABLE image "
                            "(BUILD_COMPLETE) can answer to an alias")
    current = aliases.get(alias)
    if current not in (None, image_id):
        raise ConflictError(f"AMI_ID {alias} already answers for image '{current}'; delete that alias first with "
                            f"`paracluster image alias --delete {alias}`")
