"""Russian localisation: the Russian catalogue of core and the country rules of Russia."""
