"""The shared response cache: the apps' sharing policy, the middleware, the stores
(flask-caching's backends, the page generations) and nginx's page files."""
