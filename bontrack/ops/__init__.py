"""Operations on a whole bontrack installation: backup, restore and the demo clinic."""
