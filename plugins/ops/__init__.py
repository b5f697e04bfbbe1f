"""Operations: background job monitor, failure alerts, and housekeeping of old records."""
