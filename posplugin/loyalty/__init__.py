"""The vendor-neutral loyalty core: the errors every vendor's client maps its failures onto, once, at its boundary."""
