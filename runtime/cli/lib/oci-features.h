/* The OCI features document (`kata-runtime features`). */
#pragma once

#include <json-glib/json-glib.h>

#define KR_OCI_VERSION_MIN "1.0.0"
#define KR_OCI_VERSION_MAX "1.1.0"

/* Builds the document. Pure: depends only on build-time features. */
JsonObject *kr_features_build(void);
