"""Operations: backup and restore of a bontrack installation."""
