"""The places of the taxi example that its features and its slices share: the airports and the Earth.

Plain numbers, no TensorFlow: the ``preprocessing_fn`` (:mod:`.preprocessing`) makes features of them
and the slices of the metrics (:mod:`.slices`) cut the eval rows by them, so both mean the same airport.
"""

# Where fares differ from the meter: flat fares and surcharges at airports.
AIRPORTS = {"jfk": (-73.7781, 40.6413), "lga": (-73.8740, 40.7769), "ewr": (-74.1745, 40.6895)}
AIRPORT_RADIUS_KM = 2.0
EARTH_RADIUS_KM = 6371.0
