// Starts Swagger UI from local assets (the page has no inline script, as the CSP requires).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: element.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true });
});
