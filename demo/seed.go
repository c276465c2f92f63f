package demo

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The sample data: varied enough that every list-query operator has something to
// find (exact and fuzzy labels, dotted label keys, numbers to sort by).
var (
	apps  = [...]string{"web", "api", "worker", "cache", "db", "gateway"}                                                                     //nolint:gochecknoglobals // constant sample data.
	tiers = map[string]string{"web": "frontend", "gateway": "frontend", "api": "backend", "worker": "backend", "cache": "data", "db": "data"} //nolint:gochecknoglobals // constant sample data.
	envs  = [...]string{"prod", "staging", "dev"}                                                                                             //nolint:gochecknoglobals // constant sample data.
	teams = [...]string{"payments", "search", "identity", "platform"}                                                                         //nolint:gochecknoglobals // constant sample data.
)

// DemoDeployments is how many Deployments the namespace demo gets.
const DemoDeployments = 60

// Seed creates the sample namespaces and workloads in a cluster.
func Seed(ctx context.Context, cs kubernetes.Interface, cluster string) error {
	namespaces := []string{"demo", "team-a", "team-b", "monitoring"}
	for _, ns := range namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubegate.io/demo": "true", "purpose": purpose(ns)}},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("seeding namespace %s: %w", ns, err)
		}
	}

	type job struct {
		ns string
		i  int
	}
	var jobs []job
	for i := range DemoDeployments {
		jobs = append(jobs, job{"demo", i})
	}
	for _, ns := range namespaces[1:] {
		for i := range 8 {
			jobs = append(jobs, job{ns, i})
		}
	}

	// A few workers: a local apiserver takes concurrent creates well, and the demo
	// starts faster.
	work := make(chan job)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				errs <- seedApp(ctx, cs, cluster, j.ns, j.i)
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func purpose(ns string) string {
	if ns == "monitoring" {
		return "observability"
	}
	return "workloads"
}

func seedApp(ctx context.Context, cs kubernetes.Interface, cluster, ns string, i int) error {
	app := apps[i%len(apps)]
	name := fmt.Sprintf("%s-%02d", app, i)
	labels := map[string]string{
		"app":                       app,
		"tier":                      tiers[app],
		"env":                       envs[i%len(envs)],
		"team":                      teams[i%len(teams)],
		"app.kubernetes.io/name":    name,
		"app.kubernetes.io/part-of": "kubegate-demo",
	}
	replicas := int32(1 + i%5)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Labels: labels,
			Annotations: map[string]string{"kubegate.io/cluster": cluster},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  app,
					Image: fmt.Sprintf("registry.example.com/%s:1.%d.0", app, i%7),
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("seeding deployment %s/%s: %w", ns, name, err)
	}
	if i%3 == 0 {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app.kubernetes.io/name": name},
				Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("seeding service %s/%s: %w", ns, name, err)
		}
	}
	if i%2 == 0 {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-config", Namespace: ns, Labels: labels},
			Data:       map[string]string{"LOG_LEVEL": []string{"info", "debug", "warn"}[i%3], "REPLICAS": fmt.Sprint(replicas)},
		}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("seeding configmap %s/%s: %w", ns, name, err)
		}
	}
	return nil
}
