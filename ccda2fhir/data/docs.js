// Swagger UI over the service's own OpenAPI document (paths relative: the service may sit under a prefix).
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                             supportedSubmitMethods: ["get", "post"]});
