# The one origin of docker compose: nginx serving the built web app (web/, built here with its lock file)
# and proxying the services by the prefixes of gateway/routes.py (deploy/nginx.conf, mounted as a template).
FROM node:20-bookworm-slim AS build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM nginx:1.27-bookworm
COPY --from=build /web/dist /usr/share/nginx/html
